"""Lambda cold start of the unzipped package beside a bare Django+DRF hello world, in one run."""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT))

# The project root is not on sys.path for a script, hence the imports after the insert (E402).
from devtools.package_lambda.build import (  # noqa: E402
    build,
    compile_checked_hash,
    dependencies_dir,
    handler_files,
)
from devtools.package_lambda.harness import (  # noqa: E402
    DRIVER_SOURCE,
    MotoServer,
    PackagedLambda,
    api_gateway_event,
    lambda_environment,
    unpack,
)
from devtools.package_lambda.stage import zappa_stage  # noqa: E402
from devtools.package_lambda.target import lambda_target  # noqa: E402

TARGET_RATIO = 1.3
TARGET_SECONDS = 0.7

# The bare app: Django + DRF, one APIView, the same middleware-free minimum a hello world has.
HELLO_FILES = {
    "hello_project/__init__.py": "",
    "hello_project/settings.py": """
SECRET_KEY = "bench-only"
DEBUG = False
ALLOWED_HOSTS = ["*"]
INSTALLED_APPS = ["rest_framework"]
ROOT_URLCONF = "hello_project.urls"
DATABASES = {}
USE_TZ = True
REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": [],
    "UNAUTHENTICATED_USER": None,
}
""",
    "hello_project/urls.py": """
from django.urls import re_path
from rest_framework.response import Response
from rest_framework.views import APIView


class Hello(APIView):
    def get(self, request):
        return Response({"ok": True})


urlpatterns = [re_path(r"^galleries/?$", Hello.as_view())]
""",
}


def build_project_task(directory: Path) -> Path:
    built = build("prod")
    print(built.summary())
    return unpack(built.zip_path, directory)


def build_hello_task(directory: Path) -> Path:
    """The hello world laid out like the real package: same cached wheels and pycs, same Zappa handler."""
    cli, settings_string = zappa_stage("prod")
    target = lambda_target(cli.stage_config)
    site = dependencies_dir(list(cli.stage_config.get("exclude", [])), target)
    task = directory / "task"
    shutil.copytree(site, task, ignore=shutil.ignore_patterns(".complete"))
    # The hello world is served the way Zappa serves a Django project with no app_function of its own.
    hello_settings = (
        settings_string.replace(
            "DJANGO_SETTINGS='gallery_project.settings'", "DJANGO_SETTINGS='hello_project.settings'"
        )
        .replace("APP_MODULE='gallery_project.wsgi'\n", "")
        .replace("APP_FUNCTION='application'\n", "")
    )
    files = {
        **HELLO_FILES,
        **{name: content.decode() for name, content in handler_files(hello_settings).items()},
    }
    for name, content in files.items():
        (task / name).parent.mkdir(parents=True, exist_ok=True)
        (task / name).write_text(content)
    for top in {name.split("/", 1)[0] for name in files}:
        compile_checked_hash(task / top)
    (directory / "drive_lambda.py").write_text(DRIVER_SOURCE)
    return task


def cold_start_seconds(task: Path, environment: dict[str, str], log: Path, python_flags=()) -> float:
    """Fresh interpreter: import the handler and serve GET /galleries; wall time until the answer."""
    started = time.perf_counter()
    runtime = PackagedLambda(task, environment, log, python_flags=python_flags)
    try:
        outcome = runtime.invoke(api_gateway_event("GET"))
        elapsed = time.perf_counter() - started
        status = outcome.get("response", {}).get("statusCode")
        if status != 200:
            raise SystemExit(f"{task}: first request answered {status}: {outcome}")
        return elapsed
    finally:
        runtime.close()


def slowest_imports(task: Path, environment: dict[str, str], log: Path, count: int) -> list[tuple[int, str]]:
    """`python -X importtime` of one cold start: the top-level imports costing most (cumulative µs)."""
    cold_start_seconds(task, environment, log, python_flags=("-X", "importtime"))
    costs = []
    for line in log.read_text().splitlines():
        if line.startswith("import time:") and "|" in line:
            _self, cumulative, name = (part.strip() for part in line[len("import time:") :].split("|"))
            if cumulative.isdigit() and name.count(".") <= 1:
                costs.append((int(cumulative), name))
    return sorted(costs, reverse=True)[:count]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=9, help="cold starts per package (median reported)")
    parser.add_argument("--importtime", type=int, default=0, help="also list the N costliest imports")
    parser.add_argument(
        "--against",
        type=Path,
        help="another build's zip (e.g. the previous release's dist/ zip): timed in the same interleaved "
        "runs, with the paired ratio project/against",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="coldstart-") as temp:
        temp_dir = Path(temp)
        tasks = {
            "project": build_project_task(temp_dir / "project"),
            "hello": build_hello_task(temp_dir / "hello"),
        }
        if args.against:
            tasks["against"] = unpack(args.against, temp_dir / "against")
        moto = MotoServer(temp_dir / "moto.log")
        try:
            environment = lambda_environment(dynamodb_url=moto.url, s3_url=moto.url)
            setup = PackagedLambda(tasks["project"], environment, temp_dir / "setup.log")
            setup.invoke({"manage": "ensure_resources"})
            setup.close()
            timings: dict[str, list[float]] = {name: [] for name in tasks}
            for _ in range(args.runs):  # interleaved, so drift on the machine hits both alike
                for name, task in tasks.items():
                    timings[name].append(cold_start_seconds(task, environment, temp_dir / f"{name}.log"))
            medians = {name: statistics.median(values) for name, values in timings.items()}
            ratio = medians["project"] / medians["hello"]
            for name, values in timings.items():
                spread = ", ".join(f"{value * 1000:.0f}" for value in sorted(values))
                print(f"{name:8s} median {medians[name] * 1000:6.0f} ms   runs (ms): {spread}")
            ok = ratio < TARGET_RATIO and medians["project"] < TARGET_SECONDS
            print(
                f"ratio project/hello {ratio:.2f} (target < {TARGET_RATIO}); "
                f"project {medians['project'] * 1000:.0f} ms (target < {TARGET_SECONDS * 1000:.0f} ms): "
                + ("OK" if ok else "MISSED")
            )
            if args.against:
                # Pair by round: each round's two runs met the same load on the machine.
                pairs = sorted(
                    now / then for now, then in zip(timings["project"], timings["against"], strict=True)
                )
                quartile = len(pairs) // 4
                print(
                    f"paired ratio project/against median {statistics.median(pairs):.3f} "
                    f"(p25 {pairs[quartile]:.3f}, p75 {pairs[-1 - quartile]:.3f}, {len(pairs)} pairs)"
                )
            if args.importtime:
                for name, task in tasks.items():
                    print(f"\ncostliest imports, {name} (cumulative ms):")
                    for micros, module in slowest_imports(
                        task, environment, temp_dir / "imports.log", args.importtime
                    ):
                        print(f"  {micros / 1000:7.1f}  {module}")
        finally:
            moto.stop()


if __name__ == "__main__":
    main()
