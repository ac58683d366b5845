"""Presigned URLs made by boto3 (SigV4 and SigV2), used from curl."""

from __future__ import annotations

import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import pytest

from tests.integration.conftest import s3_client


def curl(*args: str) -> tuple[int, bytes]:
    binary = shutil.which("curl")
    if binary is None:
        pytest.fail("curl is not installed; scripts/test installs it")
    done = subprocess.run(
        [binary, "-sS", "-o", "-", "-w", "\n%{http_code}", *args], capture_output=True, timeout=60, check=True
    )
    body, _, status = done.stdout.rpartition(b"\n")
    return int(status), body


def code_of(body: bytes) -> str | None:
    return ET.fromstring(body).findtext("Code") if body else None


def with_query(url: str, **changes: str) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query, keep_blank_values=True))
    query.update(changes)
    return urlunsplit(parts._replace(query=urlencode(query)))


@pytest.fixture(scope="module", params=["s3v4", "s3"])
def signer(request: pytest.FixtureRequest, server):  # type: ignore[no-untyped-def]
    return s3_client(server.url, signature_version=request.param)


def test_presigned_put_get_head_delete_from_curl(signer, s3, bucket, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"presigned body" * 1000)
    put_url = signer.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "dir/a b.txt"})
    status, body = curl("-X", "PUT", "--upload-file", str(source), put_url)
    assert status == 200, body
    get_url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "dir/a b.txt"})
    assert curl(get_url) == (200, source.read_bytes())
    head_url = signer.generate_presigned_url("head_object", Params={"Bucket": bucket, "Key": "dir/a b.txt"})
    assert curl("-I", head_url)[0] == 200
    delete_url = signer.generate_presigned_url(
        "delete_object", Params={"Bucket": bucket, "Key": "dir/a b.txt"}
    )
    assert curl("-X", "DELETE", delete_url)[0] == 204
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_presigned_get_with_response_overrides(signer, s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = signer.generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k", "ResponseContentType": "text/x-test"}
    )
    binary = shutil.which("curl")
    assert binary is not None
    headers = subprocess.run(
        [binary, "-sS", "-D", "-", "-o", "/dev/null", url], capture_output=True, text=True
    )
    assert "200" in headers.stdout.splitlines()[0]


def test_tampered_presigned_url_is_rejected_and_stores_nothing(signer, s3, bucket, tmp_path: Path) -> None:
    source = tmp_path / "source.bin"
    source.write_bytes(b"x" * 10)
    url = signer.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "signed-key"})
    tampered = url.replace("/signed-key", "/other-key")
    status, body = curl("-X", "PUT", "--upload-file", str(source), tampered)
    assert (status, code_of(body)) == (403, "SignatureDoesNotMatch")
    signature_name = "X-Amz-Signature" if "X-Amz-Signature" in url else "Signature"
    forged = with_query(
        url, **{signature_name: "A" * len(dict(parse_qsl(urlsplit(url).query))[signature_name])}
    )
    status, body = curl("-X", "PUT", "--upload-file", str(source), forged)
    assert (status, code_of(body)) == (403, "SignatureDoesNotMatch")
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0


def test_expired_presigned_url_is_denied(signer, s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = signer.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=1)
    # botocore refuses to sign an already expired URL, so this one is left to expire.
    time.sleep(2.5)
    status, body = curl(url)
    assert (status, code_of(body)) == (403, "AccessDenied")
    assert b"expired" in body


def test_v4_expires_above_a_week_is_rejected(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    url = s3_client(s3.meta.endpoint_url, signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=604801
    )
    status, body = curl(url)
    assert (status, code_of(body)) == (400, "AuthorizationQueryParametersError")


def test_v4_presigned_with_a_future_date_beyond_skew_is_denied(s3, bucket) -> None:
    url = s3_client(s3.meta.endpoint_url, signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": bucket, "Key": "k"}
    )
    future = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() + 3600))
    status, body = curl(with_query(url, **{"X-Amz-Date": future}))
    # The date no longer matches the credential scope's date or the signature: either way, refused.
    assert (status, code_of(body)) in ((400, "AuthorizationQueryParametersError"), (403, "AccessDenied"))


def test_unsigned_request_is_denied(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    status, body = curl(f"{s3.meta.endpoint_url}/{bucket}/k")
    assert (status, code_of(body)) == (403, "AccessDenied")
    status, body = curl("-X", "PUT", "--data-binary", "y", f"{s3.meta.endpoint_url}/{bucket}/anon")
    assert (status, code_of(body)) == (403, "AccessDenied")
    assert [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]] == ["k"]
