"""Fixtures for the packaged-Lambda tests: the built zip, moto as a server, the unpacked handler running."""

import json
from dataclasses import dataclass, field

import pytest

from devtools.package_lambda.build import build
from devtools.package_lambda.harness import (
    MotoServer,
    PackagedLambda,
    api_gateway_event,
    lambda_environment,
    unpack,
)
from devtools.package_lambda.stage import zappa_stage


@pytest.fixture(scope="session")
def prod_stage() -> dict:
    """The prod stage as Zappa reads it (`extends` resolved), once per session (about a second)."""
    cli, _settings = zappa_stage("prod")
    return cli.stage_config


@pytest.fixture(scope="session")
def lambda_package():
    """The prod zip, built once (a later session reuses it while no input changed)."""
    return build("prod")


@dataclass
class PackagedService:
    """The unpacked package serving events, set up the way an operator sets up a fresh stage."""

    runtime: PackagedLambda
    setup_outputs: dict[str, dict] = field(default_factory=dict)
    curator_key: str = ""
    aws_url: str = ""  # moto's endpoint, for what a test puts into the bucket itself

    def invoke(self, event: dict) -> dict:
        outcome = self.runtime.invoke(event)
        assert "error" not in outcome, outcome["error"]
        return outcome

    def respond(self, method: str, **kwargs) -> dict:
        """An API Gateway request; returns the answer as the handler gives it to API Gateway."""
        return self.invoke(api_gateway_event(method, **kwargs))["response"]

    def request(self, method: str, **kwargs) -> tuple[int, dict, dict]:
        """An API Gateway request; returns (status, JSON body, headers)."""
        response = self.respond(method, **kwargs)
        assert response["headers"]["Content-Type"].startswith("application/json"), response
        assert not response.get("isBase64Encoded"), response
        return response["statusCode"], json.loads(response["body"]), response["headers"]


@pytest.fixture(scope="session")
def packaged_service(lambda_package, tmp_path_factory):
    """moto on 127.0.0.1, the zip unpacked, `zappa manage`-style setup done: tables, bucket, curator key."""
    directory = tmp_path_factory.mktemp("lambda")
    task = unpack(lambda_package.zip_path, directory)
    moto = MotoServer(directory / "moto.log")
    environment = lambda_environment(dynamodb_url=moto.url, s3_url=moto.url)
    runtime = PackagedLambda(task, environment, directory / "lambda-stderr.log")
    try:
        service = PackagedService(runtime, aws_url=moto.url)
        for command in ("ensure_resources", "create_curator_key --label lambda"):
            service.setup_outputs[command] = service.invoke({"manage": command})
        service.curator_key = service.setup_outputs["create_curator_key --label lambda"]["stdout"].strip()
        yield service
    finally:
        runtime.close()
        moto.stop()
