"""The minio Python SDK against the embedded server and a local cluster."""

from __future__ import annotations

import io
import os
from urllib.parse import urlsplit

import pytest

from tests.compat.targets import endpoint  # noqa: F401  (module fixture: embedded and cluster)

pytestmark = pytest.mark.compat

minio = pytest.importorskip("minio", reason="scripts/test installs the minio SDK (dev extra)")


@pytest.fixture
def client(endpoint: str):  # noqa: F811
    return minio.Minio(
        urlsplit(endpoint).netloc, access_key="accessKey1", secret_key="verySecretKey1", secure=False,
        region="us-east-1",
    )  # fmt: skip


def test_minio_bucket_and_object_flow(client, tmp_path) -> None:
    client.make_bucket("minio-bucket")
    assert client.bucket_exists("minio-bucket")
    assert "minio-bucket" in [b.name for b in client.list_buckets()]
    data = os.urandom(3 * 1024 * 1024 + 9)
    result = client.put_object(
        "minio-bucket", "dir/obj.bin", io.BytesIO(data), len(data), metadata={"x-amz-meta-k": "v"}
    )
    stat = client.stat_object("minio-bucket", "dir/obj.bin")
    assert stat.size == len(data) and stat.etag == result.etag
    assert stat.metadata.get("x-amz-meta-k") == "v"
    response = client.get_object("minio-bucket", "dir/obj.bin")
    try:
        assert response.read() == data
    finally:
        response.close()
        response.release_conn()
    ranged = client.get_object("minio-bucket", "dir/obj.bin", offset=10, length=100)
    try:
        assert ranged.read() == data[10:110]
    finally:
        ranged.close()
        ranged.release_conn()
    path = tmp_path / "file.txt"
    path.write_bytes(b"from a file")
    client.fput_object("minio-bucket", "file.txt", str(path))
    client.fget_object("minio-bucket", "file.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_bytes() == b"from a file"
    names = sorted(o.object_name for o in client.list_objects("minio-bucket", recursive=True))
    assert names == ["dir/obj.bin", "file.txt"]
    assert sorted(o.object_name for o in client.list_objects("minio-bucket")) == ["dir/", "file.txt"]
    client.remove_object("minio-bucket", "dir/obj.bin")
    client.remove_object("minio-bucket", "file.txt")
    client.remove_bucket("minio-bucket")
    assert not client.bucket_exists("minio-bucket")


def test_minio_presigned_urls(client) -> None:
    import urllib.request
    from datetime import timedelta

    client.make_bucket("minio-presign")
    put_url = client.presigned_put_object("minio-presign", "k", expires=timedelta(minutes=5))
    request = urllib.request.Request(put_url, data=b"presigned", method="PUT")
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.status == 200
    get_url = client.presigned_get_object("minio-presign", "k", expires=timedelta(minutes=5))
    with urllib.request.urlopen(get_url, timeout=30) as response:
        assert response.read() == b"presigned"
    client.remove_object("minio-presign", "k")
    client.remove_bucket("minio-presign")


def test_minio_post_policy_form_upload(client, endpoint: str, tmp_path) -> None:  # noqa: F811
    import shutil
    import subprocess
    from datetime import UTC, datetime, timedelta

    from minio.datatypes import PostPolicy

    client.make_bucket("minio-post")
    policy = PostPolicy("minio-post", datetime.now(UTC) + timedelta(minutes=5))
    policy.add_starts_with_condition("key", "uploads/")
    policy.add_content_length_range_condition(1, 1024)
    fields = client.presigned_post_policy(policy)
    path = tmp_path / "form.txt"
    path.write_bytes(b"posted by minio policy")
    curl = shutil.which("curl")
    assert curl is not None
    argv = [curl, "-sS", "-o", "/dev/null", "-w", "%{http_code}"]
    for name, value in {**fields, "key": "uploads/form.txt"}.items():
        argv += ["--form-string", f"{name}={value}"]
    url = f"{endpoint}/minio-post"
    done = subprocess.run([*argv, "-F", f"file=@{path}", url], capture_output=True, text=True, timeout=60)
    assert done.stdout == "204", done.stderr
    response = client.get_object("minio-post", "uploads/form.txt")
    try:
        assert response.read() == b"posted by minio policy"
    finally:
        response.close()
        response.release_conn()
    client.remove_object("minio-post", "uploads/form.txt")
    client.remove_bucket("minio-post")
