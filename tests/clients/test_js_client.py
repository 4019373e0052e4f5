"""The JavaScript client (clients/js) against the API served as `make run` serves it, and its types.

The module starts its own DynamoDB Local and s3rver on free ports (``FaultServices``: the command lines
and readiness probes `make run` uses), runs ``ensure_resources`` and ``create_curator_key`` as `make run`
does, and serves the API with `make run`'s own command (``python -m devtools.local_services serve``:
collectstatic, then gunicorn, DEBUG off) on a free loopback port, in a subprocess. A subprocess rather
than a WSGI server thread in this process: the server gets exactly the environment written here (this
test process carries the suite's moto settings and cached AWS clients, which a thread would share), it
is the real HTTP stack the client meets (gunicorn's framing and chunked bodies, its error answers), and
stopping it cannot leave a thread or a client behind for the next test of the worker.

Then ``node --test`` runs clients/js/test against it. Two more tests: the committed ``src/schema.d.ts``
is what ``openapi-typescript`` makes of the schema now, and ``tsc`` type-checks the client.
"""

import json
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devtools.local_services.config import CODE_ROOT, LOOPBACK
from devtools.local_services.processes import (
    free_port,
    port_accepts_connections,
    stop_child,
    wait_until_ready,
)
from devtools.openapi import SCHEMA_FILE
from tests.faults.services import FaultServices
from tests.faults.store import ENV_REMOVED, store_environment

pytestmark = pytest.mark.integration

CLIENT = CODE_ROOT / "clients" / "js"
BIN = CLIENT / "node_modules" / ".bin"
# Real camera JPEGs and the guide: CI clones the project beside the shared folder (../shared).
SHARED = CODE_ROOT.parent / "shared"
NODE_SECONDS = 120


@dataclass(frozen=True)
class LiveApi:
    url: str
    curator_key: str


def run(command: list[str], *, environment: dict[str, str] | None = None, cwd: Path = CODE_ROOT, timeout=60):
    """Run ``command``; its output is the failure message when it does not exit 0."""
    result = subprocess.run(
        command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{' '.join(map(str, command))} exited {result.returncode}:\n" + (
        result.stdout + result.stderr
    )
    return result


@pytest.fixture(scope="module")
def client_tools() -> Path:
    """clients/js's devDependencies, which `make setup` installs (`npm ci --prefix clients/js`)."""
    missing = [tool for tool in ("tsc", "openapi-typescript") if not (BIN / tool).exists()]
    if missing:
        pytest.fail(
            f"{', '.join(missing)} missing from {BIN}: install the JS client's packages with "
            "`npm ci --prefix clients/js` (make setup does it)",
            pytrace=False,
        )
    return BIN


@pytest.fixture(scope="module")
def live_api(tmp_path_factory) -> Iterator[LiveApi]:
    """The API served like `make run`, on its own services and ports (about 8 s to start)."""
    root = tmp_path_factory.mktemp("js-client")
    services = FaultServices(root / "logs").start()
    environment = {
        **{
            name: value
            for name, value in os.environ.items()
            if not name.startswith("AWS_ENDPOINT_URL") and name not in ENV_REMOVED
        },
        **store_environment(services),
        # collectstatic writes under this root's .local/, not the checkout's.
        "GALLERY_PROJECT_ROOT": str(root),
        "GALLERY_ENV_FILE": "",
        "BUCKET_NAME": "js-client-tests",
        # Renditions are answered at s3rver's URL, as `make run` does: the client's pages can load them.
        "MEDIA_PUBLIC_BASE_URL": f"{services.s3.endpoint_url}/js-client-tests",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(40),
        "DJANGO_ALLOWED_HOSTS": f"{LOOPBACK},localhost",
        "DJANGO_SECURE_COOKIES": "false",
    }
    port = free_port()
    log_path = root / "server.log"
    key_path = root / "curator.key"
    server: subprocess.Popen[bytes] | None = None
    try:
        # The server boots (collectstatic, gunicorn) while the tables, the bucket and the key are made.
        with log_path.open("wb") as log:
            server = subprocess.Popen(
                [sys.executable, "-m", "devtools.local_services", "serve", "--port", str(port)],
                cwd=CODE_ROOT,
                env=environment,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        run([sys.executable, "manage.py", "ensure_resources"], environment=environment)
        key_command = ["create_curator_key", "--label", "js client", "--output", str(key_path)]
        run([sys.executable, "manage.py", *key_command], environment=environment)
        wait_until_ready(
            "the API", lambda: port_accepts_connections(port), lambda: server.poll() is None, log_path
        )
        yield LiveApi(f"http://{LOOPBACK}:{port}", key_path.read_text().strip())
    finally:
        if server is not None:
            server.terminate()
            stop_child(server)
        services.close()


def test_the_js_client_works_end_to_end_against_the_served_api(client_tools, live_api, tmp_path):
    """`node --test` passes against the served API, and every JSON answer the client got there has the
    generated type of its operation and status (one test: under `pytest -n 2` the server starts once)."""
    answers = tmp_path / "answers.jsonl"
    environment = {
        **os.environ,
        "GALLERY_API_URL": live_api.url,
        "GALLERY_CURATOR_KEY": live_api.curator_key,
        "GALLERY_SHARED_DIR": str(SHARED),
        "GALLERY_ANSWERS_FILE": str(answers),
    }
    test_files = sorted(str(path.relative_to(CLIENT)) for path in (CLIENT / "test").glob("*.test.js"))
    result = subprocess.run(
        ["node", "--test", "--test-reporter=tap", *test_files],
        cwd=CLIENT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=NODE_SECONDS,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, f"node --test failed:\n{output}"
    # The end-to-end suites skip themselves without a server; here every one must have run.
    assert "# SKIP" not in output and "# TODO" not in output and "# fail 0" in output, output
    assert_answers_typed(answers, tmp_path)


def assert_answers_typed(answers: Path, directory: Path) -> None:
    """Each answer becomes a constant of its generated type in a TypeScript file, which tsc checks: a
    field the types lack, a missing required one or another type fails, naming the call."""
    generated = (CLIENT / "src" / "schema.d.ts").read_text()
    # The schema's paths, literal ones first (".../photos/from-uploads" before ".../photos/{photoId}").
    templates = sorted(
        re.findall(r'^    "(/[^"]*)": \{$', generated, re.MULTILINE), key=lambda p: p.count("{")
    )
    patterns = [(re.compile("^" + re.sub(r"\{[^}]+\}", "[^/]+", path) + "/?$"), path) for path in templates]
    lines = [
        f'import type {{ paths }} from "{CLIENT / "src" / "schema.js"}";',
        "type Json<P extends keyof paths, M extends keyof paths[P], S extends number> =",
        "  paths[P][M] extends { responses: infer R } ? S extends keyof R",
        '    ? R[S] extends { content: { "application/json": infer B } } ? B : "no JSON answer in schema"',
        '    : "no such status in the schema" : "no such operation in the schema";',
    ]
    records = [json.loads(line) for line in answers.read_text().splitlines()]
    assert len(records) > 30, f"only {len(records)} answers were noted"
    for number, record in enumerate(records):
        path = next((path for pattern, path in patterns if pattern.match(record["path"])), None)
        assert path is not None, f"{record['path']} is no path of the schema"
        call = f"{record['method'].upper()} {record['path']} {record['status']}"
        lines.append(f"// {call}")
        kind = f'Json<"{path}", "{record["method"]}", {record["status"]}>'
        lines.append(f"export const answer{number}: {kind} = {json.dumps(record['body'])};")
    check = directory / "answers.ts"
    check.write_text("\n".join(lines) + "\n")
    options = {"strict": True, "noEmit": True, "skipLibCheck": True, "target": "ES2022", "types": []}
    (directory / "tsconfig.json").write_text(json.dumps({"compilerOptions": options, "files": [check.name]}))
    result = subprocess.run(
        [str(BIN / "tsc"), "-p", str(directory)], capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        source = check.read_text().splitlines()
        calls = {int(n) - 1 for n in re.findall(r"answers\.ts\((\d+),", result.stdout)}
        named = "\n".join(source[n - 1] for n in sorted(calls))
        pytest.fail(
            f"answers that are not of their generated type:\n{named}\n\n{result.stdout}", pytrace=False
        )


def test_the_committed_types_are_generated_from_the_schema(client_tools):
    """`npm run generate -- --check`: package.json holds the one command line that makes the types."""
    environment = {**os.environ, "GALLERY_OPENAPI_SCHEMA": str(SCHEMA_FILE)}
    result = subprocess.run(
        ["npm", "run", "--silent", "generate", "--", "--check"],
        cwd=CLIENT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, (
        "clients/js/src/schema.d.ts is not what openapi-typescript makes of the schema: "
        "run `npm run generate --prefix clients/js` and commit it\n" + result.stdout + result.stderr
    )


def test_the_client_type_checks_against_the_generated_types(client_tools):
    """`npm run typecheck`: tsc --noEmit with checkJs over src/ and examples/ (the README's page)."""
    run(["npm", "run", "--silent", "typecheck"], cwd=CLIENT)
