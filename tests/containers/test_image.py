"""The Strata image run as a user would: ``docker run`` with CloudServer's environment variables."""

from __future__ import annotations

import json
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from botocore.exceptions import ClientError

from strata.testing.docker import TEST_LABEL
from tests.containers.compose_project import docker, free_port, s3_client, wait_until

pytestmark = pytest.mark.containers

MAX_IMAGE_BYTES = 400 * 1000 * 1000
ACCESS_KEY = "containerKey1"
SECRET_KEY = "containerSecret1"


@dataclass
class RunningImage:
    container: str
    endpoint: str
    ready_after_s: float  # from `docker run` to the first healthy /_/healthcheck


def _healthcheck_ok(endpoint: str) -> bool:
    with urllib.request.urlopen(f"{endpoint}/_/healthcheck", timeout=2) as response:
        return response.status == 200


@pytest.fixture(scope="module")
def running(strata_image: str) -> Iterator[RunningImage]:
    port = free_port()
    started = time.monotonic()
    container = docker(
        "run", "-d", "--label", TEST_LABEL,
        "-p", f"127.0.0.1:{port}:8000",
        "-e", f"SCALITY_ACCESS_KEY_ID={ACCESS_KEY}",
        "-e", f"SCALITY_SECRET_ACCESS_KEY={SECRET_KEY}",
        "-e", "S3BACKEND=mem",
        "-e", "LOG_LEVEL=debug",
        strata_image,
    ).stdout.strip()  # fmt: skip
    endpoint = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthcheck_ok(endpoint), 60, "the container's S3 port", interval=0.05)
        yield RunningImage(container, endpoint, time.monotonic() - started)
    finally:
        docker("rm", "-f", "-v", container, check=False)


def test_image_serves_boto3_with_the_credentials_from_its_environment(
    running: RunningImage, capsys: pytest.CaptureFixture[str]
) -> None:
    with capsys.disabled():
        print(f"\n  image ready {running.ready_after_s:.1f}s after docker run")
    client = s3_client(running.endpoint, ACCESS_KEY, SECRET_KEY)
    bucket = f"image-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    body = uuid.uuid4().bytes * 1000
    client.put_object(Bucket=bucket, Key="a/b.bin", Body=body)
    assert client.get_object(Bucket=bucket, Key="a/b.bin")["Body"].read() == body
    listed = client.list_objects_v2(Bucket=bucket)
    assert [item["Key"] for item in listed["Contents"]] == ["a/b.bin"]


def test_default_credentials_are_refused_when_the_environment_sets_others(running: RunningImage) -> None:
    client = s3_client(running.endpoint)  # accessKey1, the default account
    with pytest.raises(ClientError) as refused:
        client.list_buckets()
    assert refused.value.response["Error"]["Code"] == "InvalidAccessKeyId"


def test_image_runs_as_a_non_root_user_with_volumes_and_a_passing_healthcheck(
    running: RunningImage, strata_image: str
) -> None:
    config = json.loads(docker("image", "inspect", strata_image).stdout)[0]["Config"]
    assert config["User"] == "strata"
    assert set(config["Volumes"]) == {"/data", "/metadata"}
    assert config["Cmd"] == ["strata", "server", "--host", "0.0.0.0"]
    assert docker("exec", running.container, "id", "-u").stdout.strip() != "0"
    wait_until(
        lambda: (
            docker("inspect", "--format", "{{.State.Health.Status}}", running.container).stdout.strip()
            == "healthy"
        ),
        60,
        "Docker to report the container healthy",
    )


def test_image_is_under_400_megabytes(strata_image: str, capsys: pytest.CaptureFixture[str]) -> None:
    size = int(docker("image", "inspect", "--format", "{{.Size}}", strata_image).stdout)
    with capsys.disabled():
        print(f"\n  image {strata_image}: {size / 1e6:.0f} MB")
    assert size < MAX_IMAGE_BYTES
