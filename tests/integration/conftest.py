from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config

from strata.testing.embedded import EmbeddedThread

ACCESS_KEY, SECRET_KEY = "accessKey1", "verySecretKey1"
OTHER_ACCESS_KEY, OTHER_SECRET_KEY = "accessKey2", "verySecretKey2"


def s3_client(
    url: str,
    access_key: str = ACCESS_KEY,
    secret_key: str = SECRET_KEY,
    s3: dict[str, object] | None = None,
    **config: object,
):
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path", **(s3 or {})}, retries={"max_attempts": 1}, **config),
    )


def other_location(server: EmbeddedThread) -> str:
    """A configured location other than us-east-1 (of the same kind, so its data lives as long)."""
    return "mem" if server.settings.backend == "mem" else "file"


@pytest.fixture(scope="module", params=["mem", "file"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmbeddedThread]:
    root: Path | None = tmp_path_factory.mktemp("strata") if request.param == "file" else None
    with EmbeddedThread(backend=request.param, root=root) as running:
        yield running


@pytest.fixture(scope="module")
def s3(server: EmbeddedThread):
    return s3_client(server.url)


@pytest.fixture
def bucket(s3) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


@pytest.fixture(scope="module")
def other(server: EmbeddedThread):  # type: ignore[no-untyped-def]
    """A client of the second default account (accessKey2)."""
    return s3_client(server.url, OTHER_ACCESS_KEY, OTHER_SECRET_KEY)


@pytest.fixture(scope="module")
def anonymous(server: EmbeddedThread):  # type: ignore[no-untyped-def]
    """An unsigned client: the requests of anyone on the network."""
    return boto3.client(
        "s3",
        endpoint_url=server.url,
        region_name="us-east-1",
        config=Config(
            signature_version=UNSIGNED, s3={"addressing_style": "path"}, retries={"max_attempts": 1}
        ),
    )
