"""Local stand-ins: the throwaway DynamoDBLocal and the start/stop/status/env-file CLI."""

import os
import signal
import socket
import subprocess
import sys
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import environ
import pytest

from devtools.local_services.config import CODE_ROOT, LOOPBACK, loopback_url
from devtools.local_services.emulators import S3RVER_PRELOAD, S3RVER_PROGRAMS, DynamoDBLocal, s3rver_command
from devtools.local_services.env import read_env_file
from devtools.local_services.probes import local_aws_client, s3_answers
from devtools.local_services.processes import process_arguments, wait_until_ready

pytestmark = pytest.mark.integration

CLI_TIMEOUT_SECONDS = 60


@dataclass
class LocalProject:
    """A throwaway project root with its own ports, driven through the CLI like `make run` does."""

    root: Path
    env: dict[str, str]

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "devtools.local_services", *args],
            cwd=CODE_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=CLI_TIMEOUT_SECONDS,
        )

    def start_concurrently(self, count: int) -> list[subprocess.CompletedProcess[str]]:
        command = [sys.executable, "-m", "devtools.local_services", "start"]
        starts = [
            subprocess.Popen(command, cwd=CODE_ROOT, env=self.env, stdout=subprocess.PIPE, text=True)
            for _ in range(count)
        ]
        return [
            subprocess.CompletedProcess(start.args, start.wait(CLI_TIMEOUT_SECONDS), start.stdout.read(), "")
            for start in starts
        ]

    def processes(self, program_suffix: str | tuple[str, ...]) -> list[int]:
        """Live processes of `program_suffix` working on this root."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            arguments = process_arguments(int(entry.name))
            if any(arg.endswith(program_suffix) for arg in arguments) and any(
                str(self.root) in arg for arg in arguments
            ):
                pids.append(int(entry.name))
        return pids

    def pid(self, service: str) -> int:
        return int((self.root / ".local" / "run" / f"{service}.pid").read_text())

    def client(self, service: str):
        return local_aws_client(service, loopback_url(int(self.env[f"LOCAL_{service.upper()}_PORT"])))


def free_ports(count: int) -> list[int]:
    """Distinct free ports: the probing sockets stay open until all are chosen."""
    with ExitStack() as stack:
        probes = [stack.enter_context(socket.socket()) for _ in range(count)]
        for probe in probes:
            probe.bind(("", 0))
        return [probe.getsockname()[1] for probe in probes]


@pytest.fixture
def project(tmp_path):
    dynamodb_port, s3_port = free_ports(2)
    project = LocalProject(
        root=tmp_path,
        env={
            **os.environ,
            "GALLERY_PROJECT_ROOT": str(tmp_path),
            "LOCAL_DYNAMODB_PORT": str(dynamodb_port),
            "LOCAL_S3_PORT": str(s3_port),
        },
    )
    yield project
    project.cli("stop")
    # Whatever `stop` missed (e.g. because it is the thing under test) must not outlive the test.
    for pid in project.processes("DynamoDBLocal.jar") + project.processes(S3RVER_PROGRAMS):
        os.kill(pid, signal.SIGKILL)


def create_table(dynamodb, name: str) -> None:
    dynamodb.create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def test_dynamodb_local_serves_a_table_and_is_gone_after_stop():
    with DynamoDBLocal() as server:
        dynamodb = local_aws_client("dynamodb", server.endpoint_url)
        create_table(dynamodb, "photos")
        dynamodb.put_item(TableName="photos", Item={"pk": {"S": "p1"}, "title": {"S": "Dune"}})
        item = dynamodb.get_item(TableName="photos", Key={"pk": {"S": "p1"}})["Item"]
        pid, work_dir = server.process.pid, server.work_dir

    assert item["title"] == {"S": "Dune"}
    assert not Path(f"/proc/{pid}").exists()
    assert not work_dir.exists()


def test_start_is_idempotent_and_data_survives_a_restart(project):
    first = project.cli("start")
    assert first.returncode == 0, first.stderr
    pids = {service: project.pid(service) for service in ("dynamodb", "s3")}

    second = project.cli("start")
    assert second.returncode == 0, second.stderr
    assert "already running" in second.stdout
    assert {service: project.pid(service) for service in pids} == pids

    create_table(project.client("dynamodb"), "ratings")
    project.client("dynamodb").put_item(TableName="ratings", Item={"pk": {"S": "r1"}})
    project.client("s3").create_bucket(Bucket="kept")
    project.client("s3").put_object(Bucket="kept", Key="a.jpg", Body=b"jpeg bytes")

    assert project.cli("stop").returncode == 0
    assert project.processes("DynamoDBLocal.jar") == project.processes(S3RVER_PROGRAMS) == []
    assert not list((project.root / ".local" / "run").glob("*.pid"))
    assert project.cli("status").stdout.splitlines() == ["dynamodb: stopped", "s3: stopped"]

    assert project.cli("start").returncode == 0
    assert project.client("dynamodb").get_item(TableName="ratings", Key={"pk": {"S": "r1"}})["Item"]
    assert project.client("s3").get_object(Bucket="kept", Key="a.jpg")["Body"].read() == b"jpeg bytes"
    assert project.cli("status").stdout.count(": running") == 2


def test_concurrent_starts_leave_one_process_per_service(project):
    results = project.start_concurrently(2)

    assert [result.returncode for result in results] == [0, 0]
    assert project.processes("DynamoDBLocal.jar") == [project.pid("dynamodb")]
    assert project.processes(S3RVER_PROGRAMS) == [project.pid("s3")]


def test_start_replaces_an_s3rver_started_without_the_race_guard(project):
    """An s3rver an older checkout started (no preload: crashes on an upload racing a delete) is replaced."""
    port = int(project.env["LOCAL_S3_PORT"])
    data_dir = project.root.resolve() / ".local" / "s3"
    data_dir.mkdir(parents=True)
    command = s3rver_command(port, data_dir)
    del command[command.index("--require") : command.index(str(S3RVER_PRELOAD)) + 1]
    log_path = project.root / "unguarded-s3rver.log"
    with open(log_path, "wb") as log:
        unguarded = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until_ready("s3rver", s3_answers(port), lambda: unguarded.poll() is None, log_path)
        result = project.cli("start")
    finally:
        unguarded.kill()
        unguarded.wait()

    assert result.returncode == 0, result.stderr
    assert f"s3: stopped pid {unguarded.pid}, started without {S3RVER_PRELOAD}" in result.stdout
    assert project.processes(S3RVER_PROGRAMS) == [project.pid("s3")] != [unguarded.pid]
    assert str(S3RVER_PRELOAD) in process_arguments(project.pid("s3"))
    assert f"s3: already running (pid {project.pid('s3')}" in project.cli("start").stdout  # kept from now on


def test_start_refuses_a_port_taken_by_another_program(project):
    with socket.socket() as squatter:
        squatter.bind((LOOPBACK, int(project.env["LOCAL_DYNAMODB_PORT"])))
        squatter.listen()
        result = project.cli("start")

    assert result.returncode == 1
    assert "is taken by another program" in result.stderr
    assert project.processes("DynamoDBLocal.jar") == project.processes(S3RVER_PROGRAMS) == []


def test_env_file_is_written_once_and_only_gains_missing_keys(project):
    env_path = project.root / ".local" / "env"

    assert project.cli("env-file").returncode == 0
    written = read_env_file(env_path)
    assert env_path.stat().st_mode & 0o777 == 0o600
    assert written["AWS_ENDPOINT_URL_DYNAMODB"] == f"http://127.0.0.1:{project.env['LOCAL_DYNAMODB_PORT']}"
    assert written["MEDIA_PUBLIC_BASE_URL"].endswith(
        f":{project.env['LOCAL_S3_PORT']}/photography-gallery-local"
    )
    assert len(written["DJANGO_SECRET_KEY"]) == 50
    # Plain HTTP on loopback, DEBUG off (make run forces it off and make dev on, whatever this says).
    assert written["DJANGO_DEBUG"] == "false" and written["DJANGO_SECURE_COOKIES"] == "false"
    assert written["DJANGO_ALLOWED_HOSTS"] == "127.0.0.1,localhost"

    edited = env_path.read_text().replace("DJANGO_DEBUG=false", "DJANGO_DEBUG=true")
    edited = "\n".join(line for line in edited.splitlines() if not line.startswith("BUCKET_NAME="))
    env_path.write_text(edited)
    assert project.cli("env-file").returncode == 0

    rewritten = read_env_file(env_path)
    assert rewritten["DJANGO_DEBUG"] == "true"
    assert rewritten["DJANGO_SECRET_KEY"] == written["DJANGO_SECRET_KEY"]
    assert rewritten["BUCKET_NAME"] == "photography-gallery-local"
    assert rewritten.keys() == written.keys()


def test_env_file_reads_the_same_through_django_environ(project, monkeypatch):
    """Settings read `.local/env` with django-environ: every written value must come through unchanged."""
    env_path = project.root / ".local" / "env"
    assert project.cli("env-file").returncode == 0

    monkeypatch.setattr(environ.Env, "ENVIRON", {})
    environ.Env.read_env(env_path)
    env = environ.Env()
    # env.str() also follows `$NAME` proxies, so a value starting with `$` would show up here.
    through_environ = {key: env.str(key) for key in environ.Env.ENVIRON}

    assert through_environ == read_env_file(env_path)


def test_env_file_path_option_is_relative_to_the_project_root(project):
    assert project.cli("env-file", "--path", "custom.env").returncode == 0
    assert (project.root / "custom.env").exists()


def test_read_env_file_skips_comments_and_strips_quotes(tmp_path):
    path = tmp_path / "env"
    path.write_text("# comment\n\nA=1\nB = 'two words'\nC=\"x=y\"\nnot a pair\nD=#kept\n")

    assert read_env_file(path) == {"A": "1", "B": "two words", "C": "x=y", "D": "#kept"}
