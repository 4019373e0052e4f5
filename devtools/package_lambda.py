"""Build a Zappa stage's Lambda zip from requirements.txt with wheels for Lambda's platform and runtime."""

import argparse
import fnmatch
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
CACHE_DIR = PROJECT_DIR / ".local" / "lambda-build"
SETTINGS_FILE = PROJECT_DIR / "zappa_settings.json"
REQUIREMENTS_FILE = PROJECT_DIR / "requirements.txt"

# What a shared object may ask of Amazon Linux 2023: glibc 2.34, and GCC 11's libstdc++ for C++ code
# (the versioned-symbol families a manylinux wheel is held to).
AMAZON_LINUX_2023 = {"GLIBC": (2, 34), "GLIBCXX": (3, 4, 29), "CXXABI": (1, 3, 13)}
# The Lambda runtimes the package may target, with what their operating system's libraries provide.
# python3.11 and older run on Amazon Linux 2, past its end of support (2026-06-30): refused.
LAMBDA_RUNTIMES = {
    "python3.12": AMAZON_LINUX_2023,
    "python3.13": AMAZON_LINUX_2023,
    "python3.14": AMAZON_LINUX_2023,
}
# Zappa's `architecture` -> the machine in wheel tags, and the ELF e_machine its shared objects carry.
LAMBDA_ARCHITECTURES = {"x86_64": ("x86_64", 62), "arm64": ("aarch64", 183)}
# The oldest perennial manylinux tag listed: older wheels are reached through the legacy aliases below.
OLDEST_MANYLINUX_MINOR = 17


@dataclass(frozen=True)
class LambdaTarget:
    """The runtime and architecture a stage deploys on, and what a wheel must be to load there."""

    runtime: str
    architecture: str

    @property
    def python(self) -> tuple[int, int]:
        """(3, 13) for python3.13."""
        major, minor = self.runtime.removeprefix("python").split(".")
        return int(major), int(minor)

    @property
    def provides(self) -> dict[str, tuple[int, ...]]:
        """The newest version of each symbol family (GLIBC, GLIBCXX, CXXABI) the runtime's libraries have."""
        return LAMBDA_RUNTIMES[self.runtime]

    @property
    def glibc(self) -> tuple[int, int]:
        major, minor = self.provides["GLIBC"]
        return major, minor

    @property
    def machine(self) -> str:
        return LAMBDA_ARCHITECTURES[self.architecture][0]

    @property
    def elf_machine(self) -> int:
        return LAMBDA_ARCHITECTURES[self.architecture][1]

    def pip_args(self) -> list[str]:
        """Binary wheels for this runtime only: cp3XY, this machine, any manylinux level its glibc loads.

        pip does not widen a perennial tag (manylinux_2_34 does not admit manylinux_2_28), so every level
        is listed, newest first; `manylinux2014` brings the legacy 2010 and 1 tags with it.
        """
        major, minor = self.glibc
        platforms = [
            f"manylinux_{major}_{level}_{self.machine}"
            for level in range(minor, OLDEST_MANYLINUX_MINOR - 1, -1)
        ]
        platforms.append(f"manylinux2014_{self.machine}")
        args = [
            "--only-binary=:all:",
            "--implementation",
            "cp",
            "--python-version",
            "{}.{}".format(*self.python),
        ]
        for platform in platforms:
            args += ["--platform", platform]
        return args


def lambda_target(stage_config: dict) -> LambdaTarget:
    """The stage's runtime and architecture, refused unless this interpreter can build for them.

    The package ships .pyc files compiled here, valid only for this Python's minor version.
    """
    runtime = stage_config.get("runtime", "")
    architecture = stage_config.get("architecture", "x86_64")
    if runtime not in LAMBDA_RUNTIMES:
        raise SystemExit(
            f"runtime {runtime!r} is not one this project ships on ({', '.join(LAMBDA_RUNTIMES)}: "
            "Amazon Linux 2023); python3.11 and older run on Amazon Linux 2, past its end of support"
        )
    if architecture not in LAMBDA_ARCHITECTURES:
        raise SystemExit(f"architecture {architecture!r} is not one of {', '.join(LAMBDA_ARCHITECTURES)}")
    target = LambdaTarget(runtime, architecture)
    if sys.version_info[:2] != target.python:
        raise SystemExit(
            "the {} runtime needs the package built by Python {}.{}, not {}.{} (its .pyc files are "
            "version-specific): run it from the project's venv (make package)".format(
                runtime, *target.python, *sys.version_info[:2]
            )
        )
    return target


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
        glibc = symbol_version("GLIBC", self.max_glibc) if self.max_glibc else "none"
        state = "up to date, reused" if self.reused else "built"
        return (
            f"{self.zip_path} ({state}) for {self.target.runtime} on {self.target.architecture}: "
            f"zip {self.zip_bytes / 2**20:.1f} MiB, unzipped {self.unzipped_bytes / 1e6:.1f} MB, "
            f"highest glibc symbol version needed: {glibc} "
            f"(the runtime has {symbol_version('GLIBC', self.target.glibc)})"
        )


def _sha256(*parts: bytes) -> str:
    digest = hashlib.sha256()
    for part in parts:
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def zappa_stage(stage: str, settings_file: Path = SETTINGS_FILE):
    """Zappa's own reading of the stage (extends resolved) and the zappa_settings.py it would generate."""
    from zappa.cli import ZappaCLI

    cli = ZappaCLI()
    cli.api_stage = stage
    cwd = os.getcwd()
    os.chdir(PROJECT_DIR)  # attach_policy and other file settings are relative to the project
    try:
        cli.load_settings(str(settings_file))
    finally:
        os.chdir(cwd)
    return cli, cli.get_zappa_settings_string()


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
        Path(__file__).read_bytes(),
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


# ---- glibc: read each shared object's ELF version needs ------------------------------------------------


def symbol_version(family: str, version: tuple[int, ...]) -> str:
    """("GLIBC", (2, 34)) -> "GLIBC_2.34", as ELF version nodes are written."""
    return f"{family}_{'.'.join(map(str, version))}"


# Version nodes named, not numbered, by the glibc release that introduced them.
NAMED_SYMBOL_VERSIONS = {"GLIBC_ABI_DT_RELR": "GLIBC_2.36"}


@dataclass(frozen=True)
class SharedObject:
    """What the loader will ask of the runtime for one ELF shared object."""

    machine: int  # e_machine: 62 x86_64, 183 aarch64
    # The symbol versions it needs (its SHT_GNU_verneed section) by family: {"GLIBC": {(2, 17), ...}, ...}
    needs: dict[str, set[tuple[int, ...]]]


def read_shared_object(path: Path) -> SharedObject:
    """Read a 64-bit little-endian ELF file's machine and symbol version needs."""
    data = path.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise ValueError(f"{path}: not a 64-bit little-endian ELF file")
    (machine,) = struct.unpack_from("<H", data, 0x12)
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    needed: dict[str, set[tuple[int, ...]]] = {}
    for _name, kind, _flags, _addr, offset, _size, link, count, _align, _entsize in sections:
        if kind != 0x6FFFFFFE:  # SHT_GNU_verneed
            continue
        strtab_offset = sections[link][4]
        entry = offset
        for _ in range(count):
            _version, aux_count, _file, aux, next_entry = struct.unpack_from("<HHIII", data, entry)
            aux_entry = entry + aux
            for _ in range(aux_count):
                _hash, _aux_flags, _other, name, next_aux = struct.unpack_from("<IHHII", data, aux_entry)
                end = data.index(b"\0", strtab_offset + name)
                label = data[strtab_offset + name : end].decode()
                label = NAMED_SYMBOL_VERSIONS.get(label, label)
                family, _, version = label.partition("_")
                if version and all(part.isdigit() for part in version.split(".")):  # not GLIBC_PRIVATE
                    needed.setdefault(family, set()).add(tuple(int(part) for part in version.split(".")))
                aux_entry += next_aux
            entry += next_entry
    return SharedObject(machine, needed)


def check_shared_objects(root: Path, target: LambdaTarget) -> dict[str, tuple[int, ...]]:
    """The highest version of each symbol family any .so under root needs; fails on what cannot load.

    Refused: a symbol version above what the runtime's libraries have (Amazon Linux 2023: GLIBC_2.34, so
    manylinux_2_34, _2_28 and older wheels load and a manylinux_2_35 one does not; GCC 11's libstdc++,
    GLIBCXX_3.4.29 and CXXABI_1.3.13, for C++ code), or another machine's code.
    """
    highest: dict[str, tuple[int, ...]] = {}
    refused = []
    for library in sorted(root.rglob("*.so*")):
        if not library.is_file():
            continue
        shared = read_shared_object(library)
        where = library.relative_to(root)
        for family, versions in shared.needs.items():
            top = max(versions)
            highest[family] = max(highest.get(family, ()), top)
            if family in target.provides and top > target.provides[family]:
                refused.append(f"{where} needs {symbol_version(family, top)}")
        if shared.machine != target.elf_machine:
            refused.append(f"{where} is not {target.machine} code (ELF machine {shared.machine})")
    if refused:
        provides = ", ".join(symbol_version(family, top) for family, top in target.provides.items())
        raise SystemExit(
            f"Shared objects that {target.runtime} on {target.architecture} ({provides}) cannot load:\n  "
            + "\n  ".join(refused)
        )
    return highest


def requirement_pins(lines: list[str]) -> dict[str, str]:
    """`name==version` lines as {normalized name: version} (PEP 503 names; other lines are skipped)."""
    pins = {}
    for line in lines:
        requirement = line.split("#", 1)[0].strip()
        if "==" in requirement:
            name, version = requirement.split("==", 1)
            pins[normalized_name(name)] = version.strip()
    return pins


def normalized_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name.strip()).lower()


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
    import zappa

    zappa_dir = Path(zappa.__file__).parent
    return {
        "handler.py": (zappa_dir / "handler.py").read_bytes(),
        "django_zappa_app.py": (zappa_dir / "ext" / "django_zappa.py").read_bytes(),
        "zappa_settings.py": settings_string.encode(),
    }


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
    import fcntl

    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    # Test workers (pytest -n) may build at once: one builds, the others then find it up to date.
    with (CACHE_DIR / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _build_locked(stage, output_dir, settings_file)


def _build_locked(stage: str, output_dir: Path, settings_file: Path) -> BuildResult:
    cli, settings_string = zappa_stage(stage, settings_file)
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
    for top in {path.relative_to(PROJECT_DIR).parts[0] for path in sources} | set(root_files):
        compile_checked_hash(tree / top)
    _check_no_timestamp_pycs(tree)
    needs = check_shared_objects(tree, target)
    _write_zip(tree, zip_path, fingerprint)
    shutil.rmtree(tree)
    return _result(zip_path, needs, target, reused=False)


# ---- running the artifact the way Lambda does, for tests and benches --------------------------------

RESPONSE_MARK = "@@lambda-response@@ "
# Runs in `python -I -S` (no site-packages, no script dir on sys.path): it sees only the unpacked package,
# imports the zip-root handler as Lambda's `handler.lambda_handler` and serves one JSON event per stdin line.
DRIVER_SOURCE = f"""
import contextlib, io, json, sys, traceback
sys.path.insert(0, sys.argv[1])
import handler


class Context:
    aws_request_id = "local-request"
    function_name = "gallery-backend-local"
    memory_limit_in_mb = 1769
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:gallery-backend-local"

    def get_remaining_time_in_millis(self):
        return 300_000


out = sys.stdout
for line in sys.stdin:
    result = {{}}
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        try:
            result["response"] = handler.lambda_handler(json.loads(line), Context())
        except Exception:
            result["error"] = traceback.format_exc()
    result["stdout"] = captured.getvalue()
    out.write({RESPONSE_MARK!r} + json.dumps(result, default=str) + "\\n")
    out.flush()
"""


def api_gateway_event(
    method: str,
    path: str = "/galleries",
    *,
    query: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    body: str | None = None,
    base64_body: bool = False,
    stage: str = "prod",
) -> dict:
    """An API Gateway REST API (v1 proxy integration) event, as API Gateway sends it to Lambda."""
    all_headers = {"Host": "abc123.execute-api.us-east-1.amazonaws.com", "X-Forwarded-Proto": "https"}
    all_headers.update(headers or {})
    return {
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": method,
        "headers": all_headers,
        "multiValueHeaders": {name: [value] for name, value in all_headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": {"proxy": path.lstrip("/")},
        "stageVariables": None,
        "requestContext": {
            "resourcePath": "/{proxy+}",
            "httpMethod": method,
            "path": f"/{stage}{path}",
            "stage": stage,
            "requestId": "local-request",
            "identity": {"sourceIp": "203.0.113.7", "userAgent": "lambda-harness"},
        },
        "body": body,
        "isBase64Encoded": base64_body,
    }


def scheduled_event(function: str, project_stage: str = "gallery-backend-prod") -> dict:
    """The EventBridge event Zappa's schedule sends; the handler reads the function from the rule name."""
    return {
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{project_stage}-{function}"],
        "detail": {},
    }


def unpack(zip_path: Path, directory: Path) -> Path:
    """Unpack the zip into `directory/task` (Lambda's /var/task) with the driver beside it."""
    task = directory / "task"
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(task)
    (directory / "drive_lambda.py").write_text(DRIVER_SOURCE)
    return task


class PackagedLambda:
    """One fresh interpreter running the unpacked package; `invoke` sends an event and returns the answer."""

    def __init__(self, task_dir: Path, environment: dict[str, str], stderr_path: Path, python_flags=()):
        self.stderr_path = stderr_path
        self._stderr = stderr_path.open("w")
        driver = task_dir.parent / "drive_lambda.py"
        self.process = subprocess.Popen(
            [sys.executable, "-I", "-S", *python_flags, str(driver), str(task_dir)],
            cwd=task_dir,
            env=environment,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            text=True,
        )

    def invoke(self, event: dict) -> dict:
        """{"response": <handler return value>, "stdout": <what it printed>} or {"error": <traceback>}."""
        self.process.stdin.write(json.dumps(event) + "\n")
        self.process.stdin.flush()
        for line in self.process.stdout:
            if line.startswith(RESPONSE_MARK):
                return json.loads(line[len(RESPONSE_MARK) :])
        raise RuntimeError(f"the packaged Lambda exited; its stderr:\n{self.stderr_path.read_text()[-4000:]}")

    def close(self) -> None:
        self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stderr.close()


def lambda_environment(dynamodb_url: str, s3_url: str) -> dict[str, str]:
    """What the Lambda runtime would provide (credentials, region) plus the secret set outside the file."""
    return {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_REGION": "us-east-1",
        "AWS_ENDPOINT_URL_DYNAMODB": dynamodb_url,
        "AWS_ENDPOINT_URL_S3": s3_url,
        "DJANGO_SECRET_KEY": "packaged-lambda-test-secret-key-0123456789abcdef",
        "BUCKET_NAME": "gallery-backend-prod-photos",
        "LAMBDA_TASK_ROOT": "/var/task",
    }


class MotoServer:
    """moto's server in its own process on 127.0.0.1 (its state is apart from any in-process mock_aws)."""

    def __init__(self, log_path: Path, module: str = "moto.server"):
        import socket

        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self._wait_until_listening()

    def _wait_until_listening(self, seconds: float = 30) -> None:
        import socket
        import time

        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"moto server exited with {self.process.returncode}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("moto server did not start listening within 30 s")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--stage", default="prod", help="Zappa stage in zappa_settings.json (default: prod)")
    parser.add_argument("--output", type=Path, default=PROJECT_DIR / "dist", help="directory for the zip")
    args = parser.parse_args(argv)
    result = build(args.stage, args.output.resolve())
    print(result.summary())
    print(f"deploy it with: zappa update {args.stage} --zip {result.zip_path}")


if __name__ == "__main__":
    main()
