"""Build the stage's zip: dependencies installed for the target, pruned and compiled, the project, a zip."""

import fcntl
import fnmatch
import hashlib
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import zappa

from devtools.package_lambda.stage import PROJECT_DIR, SETTINGS_FILE, zappa_stage
from devtools.package_lambda.target import LambdaTarget, check_shared_objects, lambda_target, symbol_version

CACHE_DIR = PROJECT_DIR / ".local" / "lambda-build"
REQUIREMENTS_FILE = PROJECT_DIR / "requirements.txt"
# The code that decides what the dependencies dir holds (what to install, for which target, how pruned).
DEPENDENCIES_CODE = (Path(__file__), Path(__file__).with_name("target.py"))

# What Zappa's handler imports at run time (zappa.handler: werkzeug; zappa.utilities: durationpy, boto3).
# Zappa itself goes in with --no-deps: click, troposphere, kappa, pip... only serve the deploying CLI.
ZAPPA_REQUIREMENT = "zappa==0.63.0"
HANDLER_REQUIREMENTS = ["Werkzeug==3.1.9", "MarkupSafe==3.0.4", "durationpy==0.11"]
# The service talks to DynamoDB and S3 only (sts: credential chains that assume a role).
AWS_SERVICES_KEPT = {"dynamodb", "s3", "sts"}
LOCALES_KEPT = ("en",)
PRUNED_DIR_NAMES = {"tests", "__pycache__"}
ZIP_DATE = (1980, 1, 1, 0, 0, 0)


@dataclass
class BuildResult:
    zip_path: Path
    zip_bytes: int
    unzipped_bytes: int
    needs: dict[str, tuple[int, ...]]  # the highest version of each symbol family a shipped .so needs
    reused: bool
    target: LambdaTarget

    @property
    def max_glibc(self) -> tuple[int, ...]:
        return self.needs.get("GLIBC", ())

    def summary(self) -> str:
        # Each family the runtime provides (GLIBC, and libstdc++'s GLIBCXX and CXXABI once C++ code ships):
        # what the package needs beside what the runtime has, so the margin is seen, not only a pass.
        needed = [
            f"{symbol_version(family, self.needs[family])} (the runtime has {symbol_version(family, top)})"
            for family, top in self.target.provides.items()
            if family in self.needs
        ]
        state = "up to date, reused" if self.reused else "built"
        return (
            f"{self.zip_path} ({state}) for {self.target.runtime} on {self.target.architecture}: "
            f"zip {self.zip_bytes / 2**20:.1f} MiB ({self.zip_bytes:,} bytes), unzipped "
            f"{self.unzipped_bytes / 1e6:.1f} MB, highest symbol versions needed: "
            + (", ".join(needed) or "none")
        )


def _sha256(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


# ---- dependencies: installed once per requirements/script version into a cache dir -------------------


def _is_excluded(name: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatch(name, pattern) for pattern in patterns)


def _prune_dependencies(site: Path) -> None:
    """Drop what Lambda never reads: tests, other languages, other AWS services' API models, scripts."""
    shutil.rmtree(site / "bin", ignore_errors=True)
    for data_dir in (site / "botocore" / "data", site / "boto3" / "data"):
        for entry in data_dir.iterdir():
            if entry.is_dir() and entry.name not in AWS_SERVICES_KEPT:
                shutil.rmtree(entry)
    for examples in (site / "botocore" / "data").rglob("examples-1.json"):
        examples.unlink()  # documentation only
    # Every client parses endpoints.json (1.2 MB, ~40 ms) on creation; endpoints now come from each
    # service's rule set, and this file is only consulted for the services the package ships.
    endpoints_path = site / "botocore" / "data" / "endpoints.json"
    endpoints = json.loads(endpoints_path.read_text())
    for partition in endpoints["partitions"]:
        partition["services"] = {
            name: spec for name, spec in partition["services"].items() if name in AWS_SERVICES_KEPT
        }
    endpoints_path.write_text(json.dumps(endpoints, separators=(",", ":")))
    # Django apps' static files (DRF's, the docs pages' Swagger UI and Redoc) are served from the collected,
    # hashed copy the package carries (collect_static); Lambda never reads their sources.
    for static in [path for path in site.rglob("static") if (path.parent / "__init__.py").is_file()]:
        if static.is_dir():
            shutil.rmtree(static)
    for directory in sorted(site.rglob("*"), reverse=True):
        if not directory.is_dir():
            continue
        other_language = directory.parent.name == "locale" and not directory.name.startswith(LOCALES_KEPT)
        if directory.name in PRUNED_DIR_NAMES or other_language:
            shutil.rmtree(directory)


def compile_checked_hash(directory: Path) -> None:
    # checked-hash: zip entries are dated 1980, so timestamp pycs would be stale and recompiled (in memory,
    # /var/task is read-only) on every cold start; hash-checked ones stay valid wherever they are unpacked.
    compileall = [sys.executable, "-m", "compileall", "-q", "-f", "-j", "0"]
    subprocess.run([*compileall, "--invalidation-mode", "checked-hash", str(directory)], check=True)


def dependencies_dir(zappa_exclude: list[str], target: LambdaTarget) -> Path:
    """The pruned, compiled site-packages for the target; built once per inputs, then reused."""
    key = _sha256(
        REQUIREMENTS_FILE.read_bytes(),
        *(path.read_bytes() for path in DEPENDENCIES_CODE),
        json.dumps(zappa_exclude).encode(),
        f"{target.runtime} {target.architecture} {sys.version}".encode(),
    )[:16]
    site = CACHE_DIR / f"site-{key}"
    if (site / ".complete").exists():
        return site
    staging = CACHE_DIR / f"staging-{key}"
    shutil.rmtree(staging, ignore_errors=True)
    pip = [sys.executable, "-m", "pip", "install", "--quiet", "--no-compile", "--disable-pip-version-check"]
    pip += ["--cache-dir", str(CACHE_DIR / "pip-cache"), *target.pip_args(), "--target", str(staging)]
    subprocess.run([*pip, "-r", str(REQUIREMENTS_FILE), *HANDLER_REQUIREMENTS], check=True)
    subprocess.run([*pip, "--no-deps", ZAPPA_REQUIREMENT], check=True)
    _prune_dependencies(staging)
    for excluded in [path for path in staging.rglob("*") if _is_excluded(path.name, zappa_exclude)]:
        if excluded.is_dir():
            shutil.rmtree(excluded, ignore_errors=True)
        else:
            excluded.unlink(missing_ok=True)
    compile_checked_hash(staging)
    (staging / ".complete").touch()
    shutil.rmtree(site, ignore_errors=True)
    staging.rename(site)
    for stale in CACHE_DIR.glob("site-*"):
        if stale != site:
            shutil.rmtree(stale, ignore_errors=True)
    return site


# ---- the project and Zappa's handler --------------------------------------------------------------------


def project_files(zappa_exclude: list[str], zappa_exclude_glob: list[str]) -> list[Path]:
    """The project's Python packages and top-level modules, minus the stage's exclude rules.

    As in `zappa package`: `exclude` names match anywhere (dependencies too), `exclude_glob` paths are
    relative to the project.
    """
    globbed = {path for pattern in zappa_exclude_glob for path in PROJECT_DIR.glob(pattern)}
    files = []
    for top in sorted(PROJECT_DIR.iterdir()):
        if _is_excluded(top.name, zappa_exclude) or top.name.startswith(".") or top in globbed:
            continue
        if top.is_file() and top.suffix == ".py":
            files.append(top)
        elif top.is_dir() and (top / "__init__.py").exists():
            for path in sorted(top.rglob("*")):
                relative = path.relative_to(PROJECT_DIR)
                excluded = path in globbed or any(
                    _is_excluded(part, zappa_exclude) for part in relative.parts
                )
                if path.is_file() and not excluded and "__pycache__" not in relative.parts:
                    files.append(path)
    return files


def handler_files(settings_string: str) -> dict[str, bytes]:
    """What `zappa package` puts at the zip root: the handler, its Django shim and zappa_settings.py."""
    zappa_dir = Path(zappa.__file__).parent
    return {
        "handler.py": (zappa_dir / "handler.py").read_bytes(),
        "django_zappa_app.py": (zappa_dir / "ext" / "django_zappa.py").read_bytes(),
        "zappa_settings.py": settings_string.encode(),
    }


def static_root(stage_config: dict) -> Path:
    """Where the stage's settings look for collected static files, relative to the package root (Lambda's
    /var/task): its DJANGO_STATIC_ROOT, which must come with DJANGO_STATIC_COLLECTED=true."""
    variables = stage_config.get("environment_variables", {})
    root = Path(variables.get("DJANGO_STATIC_ROOT", ""))
    if (
        variables.get("DJANGO_STATIC_COLLECTED") != "true"
        or not root.parts
        or root.is_absolute()
        or ".." in root.parts
    ):
        raise SystemExit(
            'the stage\'s environment_variables must set DJANGO_STATIC_COLLECTED to "true" and '
            'DJANGO_STATIC_ROOT to a directory inside the package (e.g. "static"): WhiteNoise serves the '
            "pages' CSS and JS from it"
        )
    return root


def collect_static(destination: Path) -> None:
    """`collectstatic` into the package: hashed names, gzip copies and the manifest the pages link with.

    Run by this venv's interpreter on the project's code: its Django and DRF are the pinned versions the
    package ships (requirements-dev.txt installs requirements.txt), and it can import every app, which the
    target's wheels (another machine's, for arm64) may not.
    """
    environment = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "gallery_project.settings",
        "GALLERY_ENV_FILE": "",
        "DJANGO_SECRET_KEY": "collectstatic-only",
        "DJANGO_DEBUG": "false",
        "DJANGO_STATIC_COLLECTED": "true",
        "DJANGO_STATIC_ROOT": str(destination),
    }
    command = [sys.executable, "manage.py", "collectstatic", "--noinput", "--clear", "--verbosity", "0"]
    subprocess.run(command, cwd=PROJECT_DIR, env=environment, check=True)


# ---- the zip ----------------------------------------------------------------------------------------------


def _check_no_timestamp_pycs(root: Path) -> None:
    stale = []
    for pyc in root.rglob("*.pyc"):
        with pyc.open("rb") as handle:
            flags = int.from_bytes(handle.read(8)[4:8], "little")
        if flags != 0b11:  # bit 0: hash-based, bit 1: checked against the source
            stale.append(str(pyc.relative_to(root)))
    if stale:
        raise SystemExit(f"{len(stale)} .pyc files are not checked-hash, e.g. {stale[:3]}")


def _write_zip(root: Path, zip_path: Path, comment: bytes) -> None:
    partial = zip_path.with_suffix(".partial")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=6) as archive:
        for path in sorted(root.rglob("*")):
            if path.is_dir():
                continue
            info = zipfile.ZipInfo(path.relative_to(root).as_posix(), ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            mode = 0o755 if os.access(path, os.X_OK) else 0o644
            info.external_attr = (0o100000 | mode) << 16  # regular file, readable by Lambda's user
            archive.writestr(info, path.read_bytes())
        archive.comment = comment
    partial.replace(zip_path)


def _result(zip_path: Path, needs: dict, target: LambdaTarget, *, reused: bool) -> BuildResult:
    with zipfile.ZipFile(zip_path) as archive:
        unzipped = sum(info.file_size for info in archive.infolist())
    return BuildResult(zip_path, zip_path.stat().st_size, unzipped, needs, reused, target)


def build(
    stage: str = "prod", output_dir: Path = PROJECT_DIR / "dist", settings_file: Path = SETTINGS_FILE
) -> BuildResult:
    """Build (or reuse, when every input is unchanged) `<output_dir>/<lambda name>.zip`."""
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # Test workers (pytest -n) may build at once: one builds, the others then find it up to date.
    with (CACHE_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(stage, output_dir, settings_file)


def _build_locked(stage: str, output_dir: Path, settings_file: Path) -> BuildResult:
    cli, settings_string = zappa_stage(stage, settings_file)
    static_root(cli.stage_config)  # refused before any work when the stage would serve no static files
    exclude = list(cli.stage_config.get("exclude", []))
    target = lambda_target(cli.stage_config)
    site = dependencies_dir(exclude, target)
    sources = project_files(exclude, list(cli.stage_config.get("exclude_glob", [])))
    root_files = handler_files(settings_string)
    fingerprint = _sha256(
        site.name.encode(),
        *(str(path.relative_to(PROJECT_DIR)).encode() + b"\0" + path.read_bytes() for path in sources),
        *(name.encode() + b"\0" + content for name, content in sorted(root_files.items())),
    ).encode()

    output_dir.mkdir(parents=True, exist_ok=True)
    zip_path = output_dir / f"{cli.lambda_name}.zip"
    if zip_path.exists():
        with zipfile.ZipFile(zip_path) as archive:
            if archive.comment == fingerprint:
                # Every shipped .so comes from the dependencies dir, so checking it checks the zip.
                return _result(zip_path, check_shared_objects(site, target), target, reused=True)

    tree = CACHE_DIR / f"tree-{stage}"
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(site, tree, ignore=shutil.ignore_patterns(".complete"))
    for path in sources:
        destination = tree / path.relative_to(PROJECT_DIR)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, destination)
    for name, content in root_files.items():
        (tree / name).write_bytes(content)
    collect_static(tree / static_root(cli.stage_config))
    for top in {path.relative_to(PROJECT_DIR).parts[0] for path in sources} | set(root_files):
        compile_checked_hash(tree / top)
    _check_no_timestamp_pycs(tree)
    needs = check_shared_objects(tree, target)
    _write_zip(tree, zip_path, fingerprint)
    shutil.rmtree(tree)
    return _result(zip_path, needs, target, reused=False)
