"""Deploy or update a Zappa stage with the project's own package: `make deploy STAGE=prod`.

`zappa deploy STAGE --zip ...` creates the function, the API and the schedules, but not the stage's IAM
execution role: Zappa only manages roles when it packages the project itself, and this project always
deploys its own package (Lambda wheels, checked-hash pycs, glibc check). So the steps, each Zappa's own
code, are:

1. build the package (`devtools.package_lambda`), or take the one given with `--zip`;
2. create or update the role and its inline `zappa-permissions` policy from the stage's `attach_policy`
   (`Zappa.create_iam_roles`, exactly what `zappa deploy` runs when it packages);
3. `zappa deploy STAGE --zip ZIP` the first time, `zappa update STAGE --zip ZIP` every later time.

Run with the operator's AWS credentials (the same ones `zappa deploy` needs). `AWS_ENDPOINT_URL` points
all of it at a stand-in, which is how the tests rehearse a deployment on moto.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from devtools import package_lambda


def zappa(*arguments: str, settings_file: Path, check: bool = True) -> subprocess.CompletedProcess:
    """Zappa's own CLI in this venv, run from the project (attach_policy and the like are relative to it)."""
    command = [sys.executable, "-m", "zappa.cli", *arguments, "--settings_file", str(settings_file)]
    return subprocess.run(command, cwd=package_lambda.PROJECT_DIR, check=check, text=True)


def ensure_role(stage: str, settings_file: Path) -> str:
    """Create or update the stage's execution role and its policy, as `zappa deploy` does; its ARN."""
    cli, _settings = package_lambda.zappa_stage(stage, settings_file)
    if not cli.manage_roles:
        print("role: manage_roles is false in this stage, so the role is managed outside Zappa; unchanged")
        return ""
    cwd = os.getcwd()
    os.chdir(package_lambda.PROJECT_DIR)
    try:
        arn, updated = cli.zappa.create_iam_roles()
    finally:
        os.chdir(cwd)
    print(f"role {cli.zappa.role_name}: {'created or updated' if updated else 'up to date'} ({arn})")
    return arn


def is_deployed(stage: str, settings_file: Path) -> bool:
    cli, _settings = package_lambda.zappa_stage(stage, settings_file)
    return bool(cli.zappa.get_lambda_function_versions(cli.lambda_name))


def deploy(stage: str, settings_file: Path, zip_path: Path | None = None) -> str:
    """Build (unless given), ensure the role, then deploy or update; returns the Zappa command run."""
    if zip_path is None:
        result = package_lambda.build(stage)
        print(result.summary())
        zip_path = result.zip_path
    ensure_role(stage, settings_file)
    command = "update" if is_deployed(stage, settings_file) else "deploy"
    zappa(command, stage, "--zip", str(zip_path), settings_file=settings_file)
    return command


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("stage", nargs="?", default="prod", help="Zappa stage (default: prod)")
    parser.add_argument("--zip", type=Path, help="deploy this package instead of building it")
    parser.add_argument(
        "--settings", type=Path, default=package_lambda.SETTINGS_FILE, help="Zappa settings file"
    )
    args = parser.parse_args(argv)
    deploy(args.stage, args.settings.resolve(), args.zip.resolve() if args.zip else None)


if __name__ == "__main__":
    main()
