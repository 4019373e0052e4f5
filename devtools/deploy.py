"""Deploy or update a Zappa stage with the project's own package: `make deploy STAGE=prod`.

Builds the package (or takes `--zip`), creates or updates the stage's IAM role and policy with Zappa's
own `create_iam_roles` (which `zappa deploy --zip` skips), then runs `zappa deploy --zip` the first time
and `zappa update --zip` after. Why and how: docs/deploy.md, "Deploy, update, roll back".
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import environ

from devtools.package_lambda.build import build
from devtools.package_lambda.stage import PROJECT_DIR, SETTINGS_FILE, zappa_stage

# The shortest secret key a deploy takes from the shell (Django's own check asks for 50 characters).
MIN_SECRET_KEY_LENGTH = 50
# A new IAM role is not usable by Lambda at once; Zappa's CreateFunction does not retry.
NEW_ROLE_WAIT_SECONDS = 10


def zappa(*arguments: str, settings_file: Path) -> None:
    """Zappa's own CLI in this venv, run from the project (attach_policy and the like are relative to it)."""
    command = [sys.executable, "-m", "zappa.cli", *arguments, "--settings_file", str(settings_file)]
    subprocess.run(command, cwd=PROJECT_DIR, check=True)


def ensure_role(cli, new_role_wait: float) -> None:
    """Create or update the stage's execution role and its inline policy, as `zappa deploy` does."""
    if not cli.manage_roles:
        print("role: manage_roles is false in this stage, so the role is managed outside Zappa; unchanged")
        return
    iam = cli.zappa.iam_client
    try:
        iam.get_role(RoleName=cli.zappa.role_name)
        existed = True
    except iam.exceptions.NoSuchEntityException:
        existed = False
    arn, updated = cli.zappa.create_iam_roles()
    state = "created" if not existed else "updated" if updated else "up to date"
    print(f"role {cli.zappa.role_name}: {state} ({arn})")
    if not existed and new_role_wait:
        print(f"waiting {new_role_wait:g} s for the new role to reach Lambda")
        time.sleep(new_role_wait)


def deploy(
    stage: str,
    settings_file: Path = SETTINGS_FILE,
    zip_path: Path | None = None,
    new_role_wait: float = NEW_ROLE_WAIT_SECONDS,
) -> str:
    """Build (unless given), ensure the role, then deploy or update; returns the Zappa command run."""
    if zip_path is None:
        result = build(stage, settings_file=settings_file)
        print(result.summary())
        zip_path = result.zip_path
    cli, _settings = zappa_stage(stage, settings_file)  # Zappa's reading, ~1 s: once
    stream_routing_check(cli.stage_config)
    ensure_role(cli, new_role_wait)
    command = "update" if cli.zappa.get_lambda_function_versions(cli.lambda_name) else "deploy"
    with tempfile.TemporaryDirectory(prefix="zappa-settings-") as scratch:
        settings_used = with_secret_key(cli, stage, settings_file, Path(scratch), exists=command == "update")
        zappa(command, stage, "--zip", str(zip_path), settings_file=settings_used)
    problems = stream_mappings_check(cli.zappa.lambda_client, cli.lambda_name, cli.stage_config)
    for problem in problems:
        print(f"stream: {problem}")
    if problems:
        raise SystemExit(
            "The stage was deployed, but its rating stream is not fed to the function as it must be."
        )
    return command


# The function PhotoRatings' stream feeds (gallery_project.resources.STREAM_HANDLER: this script does not
# set Django up to import it; a test checks they agree).
STREAM_HANDLER = "scans.events.rating_changes"
# A mapping in these states is fed (or about to be) after `zappa update`.
FED_STATES = frozenset({"Enabled", "Enabling", "Updating", "Creating"})


def stream_routes(stage_config: dict) -> set[str]:
    """The DynamoDB stream ARNs the stage's events route to the stream aggregator (Zappa's handler finds
    the function for a stream's batch by its ARN alone)."""
    return {
        str(event["event_source"]["arn"])
        for event in stage_config.get("events", [])
        if event.get("function") == STREAM_HANDLER
        and ":dynamodb:" in str(event.get("event_source", {}).get("arn", ""))
    }


def streaming_on(stage_config: dict) -> bool:
    variables = {
        **stage_config.get("environment_variables", {}),
        **stage_config.get("aws_environment_variables", {}),
    }
    # What the settings take for true: django-environ's own words.
    return (
        str(variables.get("RATING_STREAM_AGGREGATION", "")).strip().lower()
        in environ.Env.BOOLEAN_TRUE_STRINGS
    )


def stream_routing_check(stage_config: dict) -> None:
    """Before deploying: a stage that streams hot photos' ratings must route the stream to the function,
    or every streamed rating would be dropped as done (docs/deploy.md section 14a)."""
    if streaming_on(stage_config) and not stream_routes(stage_config):
        raise SystemExit(
            "RATING_STREAM_AGGREGATION is on but the stage's events route no PhotoRatings stream to "
            f"{STREAM_HANDLER}: add the entry `manage.py ensure_resources --function <name>` prints "
            "(docs/deploy.md section 14a), or turn the setting off."
        )


def stream_mappings_check(lambda_client, function_name: str, stage_config: dict) -> list[str]:
    """After deploying: what is wrong with the DynamoDB stream mappings feeding the function. One the
    stage's events do not route loses its records (Zappa's handler answers "done" for a batch it finds no
    function for); one the stage routes but that is off was not turned on by `zappa update` (Zappa logs a
    refused update and goes on), and its records wait, then expire after 24 hours."""
    routes, problems = stream_routes(stage_config), []
    params = {"FunctionName": function_name}
    while True:
        page = lambda_client.list_event_source_mappings(**params)
        for mapping in page.get("EventSourceMappings", []):
            arn, state = str(mapping.get("EventSourceArn", "")), mapping.get("State")
            if ":dynamodb:" not in arn:
                continue
            if arn not in routes:
                problems.append(
                    f"{arn} feeds {function_name} but the stage's events do not route it: its batches are "
                    "dropped as done. Add its entry (ensure_resources --function prints it) and deploy "
                    "again, or delete the mapping once its IteratorAge is 0."
                )
            elif state not in FED_STATES:
                problems.append(
                    f"{arn} is routed but its mapping is {state}: run `make deploy` again (`zappa update` "
                    "turns it on), or `aws lambda update-event-source-mapping --uuid "
                    f"{mapping.get('UUID')} --enabled`."
                )
        if not page.get("NextMarker"):
            return problems
        params["Marker"] = page["NextMarker"]


def with_secret_key(cli, stage: str, settings_file: Path, scratch: Path, *, exists: bool) -> Path:
    """The settings to deploy with: as they are when the function already has DJANGO_SECRET_KEY in its own
    environment (Zappa keeps variables it did not set), else a copy in ``scratch`` whose stage sets it
    through ``aws_environment_variables`` (on the function, never in the package or a file of the
    project): the operator's DJANGO_SECRET_KEY when set, else a new random one. The service refuses to
    start without it, so the first deploy's own request would fail."""
    if exists:
        configuration = cli.zappa.lambda_client.get_function_configuration(FunctionName=cli.lambda_name)
        if "DJANGO_SECRET_KEY" in configuration.get("Environment", {}).get("Variables", {}):
            print("secret key: the function has one; kept")
            return settings_file
    given = os.environ.get("DJANGO_SECRET_KEY", "")
    if given and len(given) < MIN_SECRET_KEY_LENGTH:  # e.g. the docs' "unused-here", exported for a command
        raise SystemExit(
            f"DJANGO_SECRET_KEY in this shell has {len(given)} characters: too short for a production key. "
            "Unset it to have a random one made, or give one of at least "
            f"{MIN_SECRET_KEY_LENGTH} characters."
        )
    key = given or secrets.token_urlsafe(50)
    source = "from DJANGO_SECRET_KEY" if given else "new and random"
    settings = json.loads(settings_file.read_text())
    aws_variables = settings[stage].setdefault("aws_environment_variables", {})
    aws_variables["DJANGO_SECRET_KEY"] = key
    copy = scratch / settings_file.name
    copy.write_text(json.dumps(settings))
    copy.chmod(0o600)
    print(f"secret key: set on the function's environment ({source}); in no file of the project")
    return copy


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("stage", nargs="?", default="prod", help="Zappa stage (default: prod)")
    parser.add_argument("--zip", type=Path, help="deploy this package instead of building it")
    parser.add_argument("--settings", type=Path, default=SETTINGS_FILE, help="Zappa settings file")
    parser.add_argument(
        "--new-role-wait",
        type=float,
        default=NEW_ROLE_WAIT_SECONDS,
        help=f"seconds to wait after creating the role (default {NEW_ROLE_WAIT_SECONDS})",
    )
    args = parser.parse_args(argv)
    deploy(args.stage, args.settings.resolve(), args.zip.resolve() if args.zip else None, args.new_role_wait)


if __name__ == "__main__":
    main()
