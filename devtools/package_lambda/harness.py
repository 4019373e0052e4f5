"""Run the zip the way Lambda does: unpacked, fed API Gateway and EventBridge events; moto as a server."""

import json
import subprocess
import sys
import zipfile
from pathlib import Path
from urllib.parse import quote_plus

from devtools.local_services.config import LOOPBACK, loopback_url
from devtools.local_services.processes import (
    free_port,
    port_accepts_connections,
    stop_child,
    wait_until_ready,
)

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


def s3_object_created_event(bucket: str, key: str, size: int, function: str = "gallery-backend-prod") -> dict:
    """The notification S3 sends the function when an object is created (its key URL-encoded, as S3 does);
    ``configurationId`` is the notification's Id, which Zappa makes the function's name."""
    return {
        "Records": [
            {
                "eventVersion": "2.1",
                "eventSource": "aws:s3",
                "awsRegion": "us-east-1",
                "eventName": "ObjectCreated:Put",
                "s3": {
                    "s3SchemaVersion": "1.0",
                    "configurationId": function,
                    "bucket": {"name": bucket, "arn": f"arn:aws:s3:::{bucket}"},
                    "object": {"key": quote_plus(key), "size": size},
                },
            }
        ]
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
        self.process.stdin.close()  # the driver's loop ends with its input
        stop_child(self.process)
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
        self.port = free_port()
        self.url = loopback_url(self.port)
        self._log = log_path.open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", module, "-H", LOOPBACK, "-p", str(self.port)],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until_ready(
                "moto server",
                lambda: port_accepts_connections(self.port),
                lambda: self.process.poll() is None,
                log_path,
            )
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self.process.terminate()
        stop_child(self.process)
        self._log.close()
