"""Bucket lifecycle with boto3 against the embedded server, with a two-second lifecycle "day": the
configuration round trip and its refusals, and the in-process worker expiring what the rules say."""

from __future__ import annotations

import base64
import hashlib
import http.client
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from strata.testing.embedded import EmbeddedThread
from tests.integration.conftest import ACCESS_KEY, SECRET_KEY

DAY_SECONDS = 2.0
TIMEOUT_S = 60.0


@pytest.fixture(scope="module", params=["mem", "file"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[EmbeddedThread]:
    root: Path | None = tmp_path_factory.mktemp("strata") if request.param == "file" else None
    with EmbeddedThread(
        backend=request.param, root=root, lifecycle_interval_s=0.2, lifecycle_day_s=DAY_SECONDS
    ) as running:
        yield running


@pytest.fixture
def bucket(s3) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A bucket emptied of every version, delete marker and upload afterwards."""
    name = f"lc-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    yield name
    s3.delete_bucket_lifecycle(Bucket=name)
    versions, markers = versions_of(s3, name)
    for item in versions + markers:
        s3.delete_object(Bucket=name, Key=item["Key"], VersionId=item["VersionId"])
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    s3.delete_bucket(Bucket=name)


def wait_until(condition: Callable[[], Any], what: str) -> Any:
    """Bounded polling: the condition's first truthy value, or a failure naming what never happened."""
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.1)


def error_of(call: Callable[..., Any], **arguments: Any) -> tuple[int, str, str]:
    with pytest.raises(ClientError) as caught:
        call(**arguments)
    response = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


def keys_of(s3, bucket: str) -> set[str]:  # type: ignore[no-untyped-def]
    return {item["Key"] for item in s3.list_objects_v2(Bucket=bucket).get("Contents", [])}


def versions_of(s3, bucket: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:  # type: ignore[no-untyped-def]
    listing = s3.list_object_versions(Bucket=bucket)
    return listing.get("Versions", []), listing.get("DeleteMarkers", [])


def rule(rule_id: str, **fields: Any) -> dict[str, Any]:
    return {"ID": rule_id, "Status": "Enabled", "Filter": {}, **fields}


def test_configuration_round_trip_and_delete(s3, bucket: str) -> None:
    assert error_of(s3.get_bucket_lifecycle_configuration, Bucket=bucket)[:2] == (
        404,
        "NoSuchLifecycleConfiguration",
    )
    rules = [
        {
            "ID": "logs",
            "Status": "Enabled",
            "Filter": {
                "And": {"Prefix": "logs/", "Tags": [{"Key": "k", "Value": "v"}], "ObjectSizeGreaterThan": 5}
            },
            "Expiration": {"Days": 30},
            "NoncurrentVersionExpiration": {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2},
        },
        {
            "ID": "uploads",
            "Status": "Disabled",
            "Filter": {"Prefix": "tmp/"},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        },
        {
            "ID": "markers",
            "Status": "Enabled",
            "Filter": {},
            "Expiration": {"ExpiredObjectDeleteMarker": True},
        },
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    stored = s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert stored[0]["Filter"] == rules[0]["Filter"]
    assert stored[0]["Expiration"] == {"Days": 30}
    assert stored[0]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7, "NewerNoncurrentVersions": 2}
    assert stored[1]["Status"] == "Disabled" and stored[1]["Filter"] == {"Prefix": "tmp/"}
    assert stored[2]["Expiration"] == {"ExpiredObjectDeleteMarker": True}
    s3.delete_bucket_lifecycle(Bucket=bucket)
    assert error_of(s3.get_bucket_lifecycle_configuration, Bucket=bucket)[:2] == (
        404,
        "NoSuchLifecycleConfiguration",
    )


def test_refused_configurations_change_nothing(s3, bucket: str) -> None:
    kept = [rule("kept", Expiration={"Days": 5})]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": kept})
    cases = [
        ([rule("zero", Expiration={"Days": 0})], 400, "InvalidArgument"),
        (
            [rule("same", Expiration={"Days": 1}), rule("same", Expiration={"Days": 2})],
            400,
            "InvalidArgument",
        ),
        ([rule("none")], 400, "InvalidRequest"),
        ([rule("t", Transitions=[{"Days": 1, "StorageClass": "GLACIER"}])], 501, "NotImplemented"),
        ([rule("both", Expiration={"Days": 1, "ExpiredObjectDeleteMarker": True})], 400, "MalformedXML"),
    ]
    for rules, status, code in cases:
        found = error_of(
            s3.put_bucket_lifecycle_configuration, Bucket=bucket, LifecycleConfiguration={"Rules": rules}
        )
        assert found[:2] == (status, code), rules
    assert [item["ID"] for item in s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]] == ["kept"]


def test_current_objects_expire_as_the_filters_say(s3, bucket: str) -> None:
    # Objects the rules must leave are written first: the pass that removes the last matching object
    # read every key of this small bucket at a moment when all of them were a day old.
    s3.put_object(Bucket=bucket, Key="logs/untagged", Body=b"x" * 10)
    s3.put_object(Bucket=bucket, Key="small", Body=b"x")
    s3.put_object(Bucket=bucket, Key="off/x", Body=b"x" * 100)
    s3.put_object(Bucket=bucket, Key="logs/tagged", Body=b"x" * 10, Tagging="team=a")
    s3.put_object(Bucket=bucket, Key="big", Body=b"x" * 100)
    rules = [
        {
            "ID": "tagged",
            "Status": "Enabled",
            "Filter": {"And": {"Prefix": "logs/", "Tags": [{"Key": "team", "Value": "a"}]}},
            "Expiration": {"Days": 1},
        },
        {
            "ID": "large",
            "Status": "Enabled",
            "Filter": {"ObjectSizeGreaterThan": 50},
            "Expiration": {"Days": 1},
        },
        {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": "off/"}, "Expiration": {"Days": 1}},
    ]
    rules[1]["Filter"] = {"And": {"Prefix": "b", "ObjectSizeGreaterThan": 50}}
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    wait_until(lambda: not keys_of(s3, bucket) & {"logs/tagged", "big"}, "the matching objects expired")
    assert keys_of(s3, bucket) == {"logs/untagged", "small", "off/x"}


def test_versioned_objects_get_a_delete_marker_then_every_version_goes(s3, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=bucket, Key="doc", Body=b"one")["VersionId"]
    second = s3.put_object(Bucket=bucket, Key="doc", Body=b"two")["VersionId"]
    rules = [rule("all", Expiration={"Days": 1}, NoncurrentVersionExpiration={"NoncurrentDays": 1})]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})

    def marker_in_front() -> bool:
        versions, markers = versions_of(s3, bucket)
        return any(marker["IsLatest"] for marker in markers)

    wait_until(marker_in_front, "the current version is hidden behind a delete marker")
    versions, _ = versions_of(s3, bucket)
    assert {version["VersionId"] for version in versions} <= {first, second}
    assert error_of(s3.get_object, Bucket=bucket, Key="doc")[:2] == (404, "NoSuchKey")
    # The noncurrent versions expire a day after they became noncurrent, then the lone marker goes.
    wait_until(lambda: versions_of(s3, bucket) == ([], []), "no version and no delete marker is left")


def test_newer_noncurrent_versions_are_kept(s3, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    ids = [s3.put_object(Bucket=bucket, Key="doc", Body=str(n).encode())["VersionId"] for n in range(4)]
    rules = [rule("trim", NoncurrentVersionExpiration={"NoncurrentDays": 1, "NewerNoncurrentVersions": 1})]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    wait_until(lambda: len(versions_of(s3, bucket)[0]) == 2, "two versions are left")
    assert [version["VersionId"] for version in versions_of(s3, bucket)[0]] == [ids[3], ids[2]]


def test_expired_object_delete_markers_are_removed(s3, bucket: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket=bucket, Key="gone", Body=b"x")["VersionId"]
    s3.delete_object(Bucket=bucket, Key="gone")
    s3.delete_object(Bucket=bucket, Key="gone", VersionId=version)
    s3.put_object(Bucket=bucket, Key="live", Body=b"x")
    s3.delete_object(Bucket=bucket, Key="live")  # a marker in front of a version: not expired
    rules = [rule("markers", Expiration={"ExpiredObjectDeleteMarker": True})]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    wait_until(
        lambda: [m["Key"] for m in versions_of(s3, bucket)[1]] == ["live"], "the lone marker is removed"
    )
    assert [version["Key"] for version in versions_of(s3, bucket)[0]] == ["live"]


def test_abandoned_multipart_uploads_are_aborted(s3, bucket: str) -> None:
    kept = s3.create_multipart_upload(Bucket=bucket, Key="keep/u")["UploadId"]
    abandoned = s3.create_multipart_upload(Bucket=bucket, Key="tmp/u")["UploadId"]
    s3.upload_part(Bucket=bucket, Key="tmp/u", UploadId=abandoned, PartNumber=1, Body=b"p" * 1024)
    rules = [
        {
            "ID": "abort",
            "Status": "Enabled",
            "Filter": {"Prefix": "tmp/"},
            "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1},
        }
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})

    def uploads() -> set[str]:
        return {upload["UploadId"] for upload in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])}

    wait_until(lambda: abandoned not in uploads(), "the abandoned upload is aborted")
    assert uploads() == {kept}
    assert error_of(s3.list_parts, Bucket=bucket, Key="tmp/u", UploadId=abandoned)[:2] == (
        404,
        "NoSuchUpload",
    )
    s3.abort_multipart_upload(Bucket=bucket, Key="keep/u", UploadId=kept)


def test_a_bucket_without_lifecycle_keeps_everything(s3, bucket: str) -> None:
    other = f"plain-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=other)
    s3.put_object(Bucket=other, Key="logs/a", Body=b"x")
    s3.put_object(Bucket=bucket, Key="logs/a", Body=b"x")
    s3.put_bucket_lifecycle_configuration(
        Bucket=bucket, LifecycleConfiguration={"Rules": [rule("all", Expiration={"Days": 1})]}
    )
    wait_until(lambda: not keys_of(s3, bucket), "the configured bucket's object expired")
    assert keys_of(s3, other) == {"logs/a"}
    s3.delete_object(Bucket=other, Key="logs/a")
    s3.delete_bucket(Bucket=other)


def test_puts_gets_and_heads_name_the_expiration_that_applies(s3, bucket: str) -> None:
    rules = [{"ID": "month", "Status": "Enabled", "Filter": {"Prefix": "exp/"}, "Expiration": {"Days": 30}}]
    s3.put_bucket_lifecycle_configuration(Bucket=bucket, LifecycleConfiguration={"Rules": rules})
    put = s3.put_object(Bucket=bucket, Key="exp/a", Body=b"x")
    head = s3.head_object(Bucket=bucket, Key="exp/a")
    # 30 two-second days after it was written (no rounding to midnight with a test-length day).
    due = head["LastModified"].astimezone(UTC) + timedelta(seconds=30 * DAY_SECONDS)
    expected = f'expiry-date="{format_datetime(due, usegmt=True)}", rule-id="month"'
    assert put["Expiration"] == expected
    assert head["Expiration"] == expected
    assert s3.get_object(Bucket=bucket, Key="exp/a")["Expiration"] == expected
    s3.put_object(Bucket=bucket, Key="other", Body=b"x")
    assert "Expiration" not in s3.head_object(Bucket=bucket, Key="other")


LIFECYCLE_XML = (
    b"<LifecycleConfiguration><Rule><ID>r</ID><Filter/><Status>Enabled</Status>"
    b"<Expiration><Days>30</Days></Expiration></Rule></LifecycleConfiguration>"
)


def signed_put_lifecycle(server: EmbeddedThread, bucket: str, headers: dict[str, str]) -> tuple[int, bytes]:
    request = AWSRequest(
        method="PUT", url=f"{server.url}/{bucket}?lifecycle", data=LIFECYCLE_XML, headers=headers
    )
    request.headers["x-amz-content-sha256"] = hashlib.sha256(LIFECYCLE_XML).hexdigest()
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(request)
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(
            "PUT", f"/{bucket}?lifecycle", body=LIFECYCLE_XML, headers=dict(request.headers.items())
        )
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_put_needs_an_integrity_header(s3, server: EmbeddedThread, bucket: str) -> None:  # type: ignore[no-untyped-def]
    status, body = signed_put_lifecycle(server, bucket, {})
    assert status == 400 and b"<Code>InvalidRequest</Code>" in body
    assert b"Missing required header for this request: Content-MD5" in body
    wrong = base64.b64encode(hashlib.md5(b"other").digest()).decode()
    status, body = signed_put_lifecycle(server, bucket, {"Content-MD5": wrong})
    assert status == 400 and b"<Code>BadDigest</Code>" in body
    assert error_of(s3.get_bucket_lifecycle_configuration, Bucket=bucket)[:2] == (
        404,
        "NoSuchLifecycleConfiguration",
    )
    right = base64.b64encode(hashlib.md5(LIFECYCLE_XML).digest()).decode()
    assert signed_put_lifecycle(server, bucket, {"Content-MD5": right})[0] == 200
    assert s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["ID"] == "r"
