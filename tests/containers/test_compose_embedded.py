"""docker-compose.embedded.yml: the single-container server, its data kept in named volumes across a
restart, CloudServer's variables applied, and nothing left after ``down -v``."""

from __future__ import annotations

import os
import urllib.request
import uuid
from collections.abc import Iterator

import pytest

from tests.containers.compose_project import ComposeProject, free_port, s3_client, wait_until

pytestmark = [pytest.mark.containers, pytest.mark.timeout(600)]

ACCESS_KEY = "embeddedKey1"
SECRET_KEY = "embeddedSecret1"
START_TIMEOUT_S = 300.0  # generous: a busy 2-core host has taken minutes to restart a container


@pytest.fixture(scope="module")
def embedded(strata_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ComposeProject]:
    project = ComposeProject(
        "embedded",
        ["docker-compose.embedded.yml"],
        tmp_path_factory.mktemp("compose-embedded"),
        {
            "STRATA_IMAGE": strata_image,
            "STRATA_S3_PORT": str(free_port()),
            "SCALITY_ACCESS_KEY_ID": ACCESS_KEY,
            "SCALITY_SECRET_ACCESS_KEY": SECRET_KEY,
            "S3BACKEND": "file",
        },
    )
    with project.running():
        wait_until(lambda: _ready(project), START_TIMEOUT_S, "the embedded server")
        yield project


def _endpoint(project: ComposeProject) -> str:
    return f"http://127.0.0.1:{project.env['STRATA_S3_PORT']}"


def _ready(project: ComposeProject) -> bool:
    with urllib.request.urlopen(f"{_endpoint(project)}/_/healthcheck", timeout=2) as response:
        return response.status == 200


def test_objects_survive_a_restart_in_the_named_volumes(embedded: ComposeProject) -> None:
    client = s3_client(_endpoint(embedded), ACCESS_KEY, SECRET_KEY)
    bucket = f"embedded-{uuid.uuid4().hex[:10]}"
    body = os.urandom(300_000)
    client.create_bucket(Bucket=bucket)
    client.put_object(Bucket=bucket, Key="kept.bin", Body=body)
    embedded.compose("restart", "--timeout", "10")
    embedded.follow_logs()
    wait_until(lambda: _ready(embedded), START_TIMEOUT_S, "the embedded server after its restart")
    assert client.get_object(Bucket=bucket, Key="kept.bin")["Body"].read() == body


def test_down_with_volumes_removes_the_container_network_and_volumes(embedded: ComposeProject) -> None:
    assert len(embedded.resources()["volumes"]) == 2
    embedded.down()
    assert embedded.resources() == {}
