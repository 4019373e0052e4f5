"""`zappa deploy prod` rehearsed against moto on loopback: the role, the function, the API and the schedules.

The same zip the packaged-handler tests run is deployed with `devtools.deploy` (role through Zappa's own
`create_iam_roles`, then `zappa deploy --zip`), updated the same way, read with `zappa status --json` and
removed with `zappa undeploy`. What each step made is read back from moto and held against what
`zappa_settings.json` and `docs/deploy.md` promise; what moto cannot show is listed there, in "Deploy,
update, roll back".

Nothing may leave the machine: the stage's `touch` is off in the rehearsal's copy of the settings, and every
HTTP(S) client in the Zappa processes is sent through a proxy on loopback that records where it was asked to
go and refuses.
"""

import ast
import base64
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import pytest

from devtools.package_lambda.harness import MotoServer
from devtools.package_lambda.stage import PROJECT_DIR, SETTINGS_FILE

pytestmark = pytest.mark.integration

POLICY = json.loads((PROJECT_DIR / "docs" / "iam-policy.json").read_text())
DEPLOY_DOC = (PROJECT_DIR / "docs" / "deploy.md").read_text()
FUNCTION = "gallery-backend-prod"
ROLE = f"{FUNCTION}-ZappaLambdaExecutionRole"


class RefusingProxy:
    """An HTTP proxy on loopback that records each request's target and answers 403 to all of them."""

    def __init__(self):
        self.targets: list[str] = []
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _address = self._server.accept()
            except OSError:
                return
            with connection:
                connection.settimeout(5)
                try:
                    request_line = connection.recv(4096).split(b"\r\n", 1)[0].decode(errors="replace")
                    self.targets.append(request_line.split(" ")[1] if " " in request_line else request_line)
                    connection.sendall(
                        b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                    )
                except OSError:
                    pass

    def close(self) -> None:
        self._server.close()


@dataclass
class Rehearsal:
    moto_url: str
    zip_path: Path
    stage: dict  # the prod stage as Zappa reads it
    steps: dict[str, subprocess.CompletedProcess] = field(default_factory=dict)
    seen: dict[str, dict] = field(default_factory=dict)
    outbound: list[str] = field(default_factory=list)

    @property
    def schedules(self) -> dict[str, str]:
        """Rule name -> schedule for each of the stage's events, plus Zappa's keep-warm rule."""
        rules = {
            f"{FUNCTION}-{event['function']}": event["expression"]
            for event in self.stage["events"]
            if "expression" in event
        }
        rules[f"{FUNCTION}-zappa-keep-warm-handler.keep_warm_callback"] = self.stage["keep_warm_expression"]
        return rules

    def client(self, service: str):
        return boto3.client(
            service,
            endpoint_url=self.moto_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def snapshot(self) -> dict:
        """What exists on 'AWS' now, read back through the APIs."""
        lambda_client, events, iam = self.client("lambda"), self.client("events"), self.client("iam")
        state: dict = {"role_policies": {}, "rules": {}}
        try:
            state["function"] = lambda_client.get_function_configuration(FunctionName=FUNCTION)
            state["versions"] = lambda_client.list_versions_by_function(FunctionName=FUNCTION)["Versions"]
            state["invoke_policy"] = json.loads(lambda_client.get_policy(FunctionName=FUNCTION)["Policy"])
        except lambda_client.exceptions.ResourceNotFoundException:
            state["function"] = None
        try:
            state["role"] = iam.get_role(RoleName=ROLE)["Role"]
            for name in iam.list_role_policies(RoleName=ROLE)["PolicyNames"]:
                document = iam.get_role_policy(RoleName=ROLE, PolicyName=name)["PolicyDocument"]
                state["role_policies"][name] = json.loads(document) if isinstance(document, str) else document
        except iam.exceptions.NoSuchEntityException:
            state["role"] = None
        for rule in events.list_rules()["Rules"]:
            targets = events.list_targets_by_rule(Rule=rule["Name"])["Targets"]
            state["rules"][rule["Name"]] = (
                rule.get("ScheduleExpression"),
                [target["Arn"] for target in targets],
            )
        bucket = self.stage["environment_variables"]["BUCKET_NAME"]
        notifications = self.client("s3").get_bucket_notification_configuration(Bucket=bucket)
        state["notifications"] = notifications.get("LambdaFunctionConfigurations", [])
        state["apis"] = self.client("apigateway").get_rest_apis()["items"]
        stacks = self.client("cloudformation").list_stacks()["StackSummaries"]
        state["stacks"] = {stack["StackName"]: stack["StackStatus"] for stack in stacks}
        return state


def _run(command: list[str], environment: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(
        command, cwd=PROJECT_DIR, env=environment, capture_output=True, text=True, timeout=300, check=False
    )
    assert done.returncode == 0, f"{command} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.fixture(scope="module")
def rehearsal(lambda_package, prod_stage, tmp_path_factory):
    """deploy -> (an old python3.11 deployment with a stale policy) -> update -> status -> undeploy."""
    directory = tmp_path_factory.mktemp("deploy-rehearsal")
    settings = json.loads(SETTINGS_FILE.read_text())
    settings["prod"]["touch"] = False  # the one change: Zappa's final GET would go to the real API host
    settings_file = directory / "zappa_settings.json"
    settings_file.write_text(json.dumps(settings))
    moto = MotoServer(directory / "moto.log", module="tests.lambda_package.moto_server")
    proxy = RefusingProxy()
    environment = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith("AWS_") and name != "DJANGO_SECRET_KEY"  # make deploy makes one
    }
    environment.update(
        {
            "AWS_ENDPOINT_URL": moto.url,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            **{name: proxy.url for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy")},
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
        }
    )
    deploy = [sys.executable, "-m", "devtools.deploy", "prod", "--zip", str(lambda_package.zip_path)]
    deploy += ["--settings", str(settings_file), "--new-role-wait", "0"]
    zappa = [sys.executable, "-m", "zappa.cli"]
    result = Rehearsal(moto.url, lambda_package.zip_path, prod_stage)
    try:
        # The bucket exists before the first deploy (ensure_resources, docs/deploy.md): Zappa subscribes the
        # function to its events.
        result.client("s3").create_bucket(Bucket=prod_stage["environment_variables"]["BUCKET_NAME"])
        result.steps["deploy"] = _run(deploy, environment)
        result.seen["deployed"] = result.snapshot()

        # An existing deployment from before this release: python3.11, an older policy on the role.
        result.client("lambda").update_function_configuration(FunctionName=FUNCTION, Runtime="python3.11")
        stale = {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}],
        }
        result.client("iam").put_role_policy(
            RoleName=ROLE, PolicyName="zappa-permissions", PolicyDocument=json.dumps(stale)
        )
        result.seen["stale"] = result.snapshot()
        result.steps["update"] = _run(deploy, environment)
        result.seen["updated"] = result.snapshot()

        result.steps["status"] = _run(
            [*zappa, "status", "prod", "--json", "-s", str(settings_file)], environment
        )
        result.steps["undeploy"] = _run(
            [*zappa, "undeploy", "prod", "--yes", "-s", str(settings_file)], environment
        )
        result.seen["undeployed"] = result.snapshot()
        result.outbound = list(proxy.targets)
        yield result
    finally:
        proxy.close()
        moto.stop()


def _documented(setting: str) -> int:
    return int(re.search(rf"`{setting}: (\d+)`", DEPLOY_DOC).group(1))


# ---- deploy --------------------------------------------------------------------------------------------


def test_deploy_creates_the_role_with_the_documented_policy(rehearsal):
    deployed = rehearsal.seen["deployed"]
    assert "Calling deploy for stage prod" in rehearsal.steps["deploy"].stdout
    assert f"role {ROLE}: created" in rehearsal.steps["deploy"].stdout
    assert deployed["role"] is not None
    assert deployed["role_policies"] == {"zappa-permissions": POLICY}
    assert deployed["function"]["Role"] == deployed["role"]["Arn"]
    trusted = deployed["role"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["Service"]
    assert "lambda.amazonaws.com" in trusted


def test_deploy_creates_the_function_the_settings_describe(rehearsal):
    function = rehearsal.seen["deployed"]["function"]
    assert function["Runtime"] == rehearsal.stage["runtime"] == "python3.13"
    assert function["Architectures"] == [rehearsal.stage["architecture"]] == ["x86_64"]
    assert function["Handler"] == "handler.lambda_handler"
    assert function["MemorySize"] == rehearsal.stage["memory_size"] == _documented("memory_size")
    assert function["Timeout"] == rehearsal.stage["timeout_seconds"] == _documented("timeout_seconds")
    # Zappa's `environment_variables` travel inside the package (its zappa_settings.py, which the handler
    # puts into os.environ); the function's own environment holds the secret key alone, which the first
    # deploy sets (the service refuses to start without it) and no file of the project or package holds.
    variables = function.get("Environment", {}).get("Variables", {})
    assert set(variables) == {"DJANGO_SECRET_KEY"} and len(variables["DJANGO_SECRET_KEY"]) >= 50
    assert (
        "secret key: set on the function's environment (new and random)" in rehearsal.steps["deploy"].stdout
    )
    with zipfile.ZipFile(rehearsal.zip_path) as archive:
        assert all(
            variables["DJANGO_SECRET_KEY"].encode() not in archive.read(name) for name in archive.namelist()
        )
    updated = rehearsal.seen["updated"]["function"]["Environment"]["Variables"]
    assert (
        updated == variables and "secret key: the function has one; kept" in rehearsal.steps["update"].stdout
    )
    with zipfile.ZipFile(rehearsal.zip_path) as archive:
        module = ast.parse(archive.read("zappa_settings.py").decode())
    assigned = {node.targets[0].id: node.value for node in module.body if isinstance(node, ast.Assign)}
    shipped = ast.literal_eval(assigned["ENVIRONMENT_VARIABLES"])
    assert shipped == {
        "AWS_REGION": rehearsal.stage["aws_region"],
        **rehearsal.stage["environment_variables"],
    }
    assert ast.literal_eval(assigned["API_STAGE"]) == "prod"
    assert ast.literal_eval(assigned["DJANGO_SETTINGS"]) == rehearsal.stage["django_settings"]


def test_deploy_ships_the_project_package_itself(rehearsal):
    function = rehearsal.seen["deployed"]["function"]
    package = rehearsal.zip_path.read_bytes()
    assert function["CodeSize"] == len(package)
    assert function["CodeSha256"] == base64.b64encode(hashlib.sha256(package).digest()).decode()


def test_deploy_schedules_the_scans_and_keep_warm(rehearsal):
    scans = {"scans.events.update_gallery_photos", "scans.events.update_galleries_metadata"}
    scheduled = {event["function"] for event in rehearsal.stage["events"] if "expression" in event}
    assert scheduled == scans
    assert len(rehearsal.schedules) == 3
    deployed = rehearsal.seen["deployed"]
    arn = deployed["function"]["FunctionArn"]
    assert deployed["rules"] == {
        name: (expression, [arn]) for name, expression in rehearsal.schedules.items()
    }
    # Each rule may invoke the function (Zappa logs "Problem creating permission" only because moto
    # answers AddPermission with 200 where Lambda answers 201).
    allowed = {
        statement["Condition"]["ArnLike"]["AWS:SourceArn"]
        for statement in deployed["invoke_policy"]["Statement"]
        if statement["Principal"] == {"Service": "events.amazonaws.com"}
    }
    assert allowed == {f"arn:aws:events:us-east-1:123456789012:rule/{name}" for name in rehearsal.schedules}


def s3_subscriptions(state: dict) -> list[tuple]:
    return [
        (config["Id"], config["LambdaFunctionArn"], config["Events"], config.get("Filter"))
        for config in state["notifications"]
    ]


def test_deploy_subscribes_the_function_to_the_buckets_new_objects_once(rehearsal):
    """One notification for the whole bucket (Zappa 0.63 reads no key filter, and gives every subscription
    of one function the same Id, so a second one for the other prefix would replace the first on update):
    the handler ignores keys outside galleries/ and uploads/ before any AWS call."""
    deployed = rehearsal.seen["deployed"]
    arn = deployed["function"]["FunctionArn"]
    assert s3_subscriptions(deployed) == [(FUNCTION, arn, ["s3:ObjectCreated:*"], None)]
    bucket = rehearsal.stage["environment_variables"]["BUCKET_NAME"]
    allowed = {
        statement["Condition"]["ArnLike"]["AWS:SourceArn"]
        for statement in deployed["invoke_policy"]["Statement"]
        if statement["Principal"] == {"Service": "s3.amazonaws.com"}
    }
    assert allowed == {f"arn:aws:s3:::{bucket}"}
    updated, undeployed = rehearsal.seen["updated"], rehearsal.seen["undeployed"]
    assert s3_subscriptions(updated) == [
        (FUNCTION, updated["function"]["FunctionArn"], ["s3:ObjectCreated:*"], None)
    ]
    assert s3_subscriptions(undeployed) == []


def test_deploy_creates_the_api_through_cloudformation(rehearsal):
    deployed = rehearsal.seen["deployed"]
    assert deployed["stacks"] == {FUNCTION: "CREATE_COMPLETE"}
    assert [api["name"] for api in deployed["apis"]] == [FUNCTION]
    api_id = deployed["apis"][0]["id"]
    stages = rehearsal.client("apigateway").get_stages(restApiId=api_id)["item"]
    assert [stage["stageName"] for stage in stages] == ["prod"]
    assert f"https://{api_id}.execute-api.us-east-1.amazonaws.com/prod" in rehearsal.steps["deploy"].stdout


# ---- update: the way an existing python3.11 deployment moves -----------------------------------------


def test_update_moves_a_python311_function_to_python313(rehearsal):
    assert rehearsal.seen["stale"]["function"]["Runtime"] == "python3.11"
    updated = rehearsal.seen["updated"]
    assert "Calling update for stage prod" in rehearsal.steps["update"].stdout
    assert updated["function"]["Runtime"] == "python3.13"
    assert updated["function"]["CodeSha256"] == rehearsal.seen["deployed"]["function"]["CodeSha256"]
    published = [version["Version"] for version in updated["versions"] if version["Version"] != "$LATEST"]
    before = [version["Version"] for version in rehearsal.seen["deployed"]["versions"]]
    assert len(published) > len([version for version in before if version != "$LATEST"])


def test_update_puts_the_documented_policy_back_on_the_role(rehearsal):
    assert rehearsal.seen["stale"]["role_policies"] != {"zappa-permissions": POLICY}
    assert rehearsal.seen["updated"]["role_policies"] == {"zappa-permissions": POLICY}
    assert f"role {ROLE}: updated" in rehearsal.steps["update"].stdout


def test_update_keeps_one_rule_per_schedule(rehearsal):
    updated = rehearsal.seen["updated"]
    arn = updated["function"]["FunctionArn"]
    assert updated["rules"] == {name: (expression, [arn]) for name, expression in rehearsal.schedules.items()}
    assert updated["stacks"] == {FUNCTION: "UPDATE_COMPLETE"}


# ---- status and undeploy ------------------------------------------------------------------------------


def test_status_reports_the_deployment(rehearsal):
    status = json.loads(rehearsal.steps["status"].stdout.strip().splitlines()[-1])
    assert status["Lambda Runtime"] == "python3.13"
    assert status["Lambda Memory Size"] == rehearsal.stage["memory_size"]
    assert status["Lambda Timeout"] == rehearsal.stage["timeout_seconds"]
    assert status["Lambda Code Size"] == len(rehearsal.zip_path.read_bytes())
    assert status["Num. Event Rules"] == len(rehearsal.schedules)
    assert {
        event["Event Rule Name"]: event["Event Rule Schedule"] for event in status["Events"]
    } == rehearsal.schedules
    api_id = rehearsal.seen["updated"]["apis"][0]["id"]
    assert status["API Gateway URL"] == f"https://{api_id}.execute-api.us-east-1.amazonaws.com/prod"


def test_undeploy_removes_function_api_and_schedules_and_keeps_the_role(rehearsal):
    gone = rehearsal.seen["undeployed"]
    assert gone["function"] is None
    assert gone["rules"] == {}
    # The API goes with its stack on AWS; moto deletes the stack but leaves the RestApi it made.
    assert gone["stacks"] == {FUNCTION: "DELETE_COMPLETE"}
    assert gone["role_policies"] == {"zappa-permissions": POLICY}  # Zappa never deletes the role


def test_nothing_left_the_machine(rehearsal):
    # Zappa's CLI asks PyPI whether it is current (refused here); nothing else may be tried, above all
    # no request to the deployed API's real host.
    assert rehearsal.outbound, "the proxy saw nothing: the check would not notice an escape"
    assert set(rehearsal.outbound) <= {"pypi.org:443"}, rehearsal.outbound
