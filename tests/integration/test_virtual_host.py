"""Virtual-hosted-style requests: the bucket in the Host name, for names ENDPOINT declares.

The test resolves nothing: boto3 builds and signs ``http://<bucket>.s3.localtest:<port>/<key>`` and a
``before-send`` hook sends it to 127.0.0.1 with that Host header, as a resolver would.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from urllib.parse import urlsplit, urlunsplit

import boto3
import pytest
from botocore.config import Config

from strata.settings import load_server_settings
from strata.testing.embedded import EmbeddedThread
from tests.integration.conftest import ACCESS_KEY, SECRET_KEY

ENDPOINT = "s3.localtest"


@pytest.fixture(scope="module")
def vhost_server() -> Iterator[EmbeddedThread]:
    running = EmbeddedThread(backend="mem")
    running.settings = load_server_settings({"ENDPOINT": ENDPOINT}, backend="mem", host="127.0.0.1", port=0)
    with running:
        yield running


def to_loopback(request, **_: object) -> None:  # type: ignore[no-untyped-def]
    parts = urlsplit(request.url)
    request.headers["Host"] = parts.netloc
    request.url = urlunsplit(parts._replace(netloc=f"127.0.0.1:{parts.port}"))


def virtual_client(port: int, signature_version: str = "s3v4"):  # type: ignore[no-untyped-def]
    client = boto3.client(
        "s3",
        endpoint_url=f"http://{ENDPOINT}:{port}",
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "virtual"},
            signature_version=signature_version,
            retries={"max_attempts": 1},
        ),
    )
    client.meta.events.register("before-send.s3", to_loopback)
    return client


@pytest.mark.parametrize("signature_version", ["s3v4", "s3"])
def test_virtual_hosted_bucket_and_object_flow(vhost_server, signature_version: str) -> None:
    s3 = virtual_client(vhost_server.port, signature_version)
    bucket = f"vhost-{signature_version}"
    s3.create_bucket(Bucket=bucket)
    assert bucket in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    s3.head_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="dir/a key.txt", Body=b"virtual")
    assert s3.get_object(Bucket=bucket, Key="dir/a key.txt")["Body"].read() == b"virtual"
    listing = s3.list_objects_v2(Bucket=bucket, Prefix="dir/")
    assert [o["Key"] for o in listing["Contents"]] == ["dir/a key.txt"]
    assert s3.get_bucket_location(Bucket=bucket)["LocationConstraint"] in (None, "us-east-1")
    s3.delete_object(Bucket=bucket, Key="dir/a key.txt")
    s3.delete_bucket(Bucket=bucket)


def test_virtual_hosted_and_path_style_see_the_same_objects(vhost_server) -> None:
    virtual = virtual_client(vhost_server.port)
    path_style = boto3.client(
        "s3",
        endpoint_url=vhost_server.url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}),
    )
    virtual.create_bucket(Bucket="shared-view")
    virtual.put_object(Bucket="shared-view", Key="k", Body=b"one")
    assert path_style.get_object(Bucket="shared-view", Key="k")["Body"].read() == b"one"
    path_style.delete_object(Bucket="shared-view", Key="k")
    virtual.delete_bucket(Bucket="shared-view")


def test_presigned_virtual_hosted_url_from_curl(vhost_server) -> None:
    s3 = virtual_client(vhost_server.port)
    s3.create_bucket(Bucket="vhost-presigned")
    s3.put_object(Bucket="vhost-presigned", Key="k", Body=b"presigned vhost")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "vhost-presigned", "Key": "k"})
    assert urlsplit(url).hostname == f"vhost-presigned.{ENDPOINT}"
    curl = shutil.which("curl")
    assert curl is not None, "scripts/test installs curl"
    # --resolve maps the name to 127.0.0.1 for this one command; nothing else changes.
    resolve = f"vhost-presigned.{ENDPOINT}:{vhost_server.port}:127.0.0.1"
    done = subprocess.run(
        [curl, "-sS", "--resolve", resolve, url], capture_output=True, timeout=60, check=True
    )
    assert done.stdout == b"presigned vhost"
    s3.delete_object(Bucket="vhost-presigned", Key="k")
    s3.delete_bucket(Bucket="vhost-presigned")


def test_unknown_host_name_is_path_style(vhost_server) -> None:
    """A Host outside the configured endpoints names no bucket: the first path segment does."""
    s3 = virtual_client(vhost_server.port)
    s3.create_bucket(Bucket="plainbucket")
    curl = shutil.which("curl")
    assert curl is not None
    url = vhost_server.url + "/plainbucket"
    done = subprocess.run(
        [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-H", "Host: plainbucket.elsewhere.test", url],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert done.stdout == "403"  # unsigned, so denied, but routed as a bucket request rather than failing
    s3.delete_bucket(Bucket="plainbucket")
