"""Bucket versioning end to end through boto3: the seed's 7.1 scenarios, delete markers, DeleteObjects,
ListObjectVersions."""

from __future__ import annotations

import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_buckets import error_of


def delete_everything(s3, name: str) -> None:
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=item["Key"], VersionId=item["VersionId"])
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def vbucket(s3) -> Iterator[str]:
    """A fresh bucket whose versioning was never configured; every version is removed afterwards."""
    name = f"ver-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    yield name
    delete_everything(s3, name)


def set_versioning(s3, bucket: str, status: str) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": status})


def put(s3, bucket: str, key: str, body: bytes) -> dict:
    return s3.put_object(Bucket=bucket, Key=key, Body=body)


def body_of(s3, bucket: str, key: str, version_id: str | None = None) -> bytes:
    extra = {"VersionId": version_id} if version_id is not None else {}
    return s3.get_object(Bucket=bucket, Key=key, **extra)["Body"].read()


def raw_versions_page(s3, bucket: str, **kwargs: object) -> tuple[list[tuple[str, str, bool, bool]], dict]:
    """One ListObjectVersions page as (key, version id, is latest, is delete marker) in the server's order
    (boto3 splits versions and markers into two lists), and boto3's parsed answer."""
    captured: list[bytes] = []

    def keep(http_response, **_: object) -> None:
        captured.append(http_response.content)

    s3.meta.events.register("after-call.s3.ListObjectVersions", keep)
    try:
        parsed = s3.list_object_versions(Bucket=bucket, **kwargs)
    finally:
        s3.meta.events.unregister("after-call.s3.ListObjectVersions", keep)
    root = ET.fromstring(captured[-1])
    rows = []
    for node in root:
        tag = node.tag.split("}")[-1]
        if tag in ("Version", "DeleteMarker"):
            text = {child.tag.split("}")[-1]: child.text for child in node}
            rows.append((text["Key"], text["VersionId"], text["IsLatest"] == "true", tag == "DeleteMarker"))
    return rows, parsed


def versions(s3, bucket: str, **kwargs: object) -> list[tuple[str, str, bool, bool]]:
    return raw_versions_page(s3, bucket, **kwargs)[0]


# ---- Put/GetBucketVersioning ----


def test_get_bucket_versioning_is_empty_before_configuration(s3, vbucket) -> None:
    response = s3.get_bucket_versioning(Bucket=vbucket)
    assert "Status" not in response and "MFADelete" not in response


def test_put_bucket_versioning_enabled_then_suspended(s3, vbucket) -> None:
    set_versioning(s3, vbucket, "Enabled")
    assert s3.get_bucket_versioning(Bucket=vbucket)["Status"] == "Enabled"
    set_versioning(s3, vbucket, "Suspended")
    assert s3.get_bucket_versioning(Bucket=vbucket)["Status"] == "Suspended"


def test_mfa_delete_is_not_supported(s3, vbucket) -> None:
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_versioning(
            Bucket=vbucket, VersioningConfiguration={"Status": "Enabled", "MFADelete": "Enabled"}
        )
    assert error_of(caught) == ("NotImplemented", 501)
    assert "Status" not in s3.get_bucket_versioning(Bucket=vbucket)


def test_invalid_versioning_status_is_refused(s3, vbucket) -> None:
    with pytest.raises(ClientError) as caught:
        s3.put_bucket_versioning(Bucket=vbucket, VersioningConfiguration={"Status": "On"})
    assert error_of(caught) == ("IllegalVersioningConfigurationException", 400)


# ---- the seed's scenarios ----


def test_two_puts_in_an_enabled_bucket_make_two_versions(s3, vbucket) -> None:
    set_versioning(s3, vbucket, "Enabled")
    first = put(s3, vbucket, "foo", b"A")["VersionId"]
    second = put(s3, vbucket, "foo", b"B")["VersionId"]
    assert first != second and "null" not in (first, second)
    assert versions(s3, vbucket) == [("foo", second, True, False), ("foo", first, False, False)]
    assert body_of(s3, vbucket, "foo") == b"B"
    assert body_of(s3, vbucket, "foo", first) == b"A"
    head = s3.head_object(Bucket=vbucket, Key="foo", VersionId=first)
    assert head["VersionId"] == first  # ids are opaque and stable across calls


def test_case_1_null_versions_overwrite_each_other(s3, vbucket) -> None:
    assert "VersionId" not in put(s3, vbucket, "foo", b"A")
    put(s3, vbucket, "foo", b"B")
    assert versions(s3, vbucket) == [("foo", "null", True, False)]
    assert body_of(s3, vbucket, "foo", "null") == b"B"


def test_case_1_suspended_puts_answer_null_and_overwrite(s3, vbucket) -> None:
    set_versioning(s3, vbucket, "Suspended")
    assert put(s3, vbucket, "foo", b"A")["VersionId"] == "null"
    assert put(s3, vbucket, "foo", b"B")["VersionId"] == "null"
    assert versions(s3, vbucket) == [("foo", "null", True, False)]
    assert s3.head_object(Bucket=vbucket, Key="foo")["VersionId"] == "null"


def test_case_2_enabling_versioning_preserves_the_null_version(s3, vbucket) -> None:
    put(s3, vbucket, "foo", b"B")
    set_versioning(s3, vbucket, "Enabled")
    new = put(s3, vbucket, "foo", b"C")["VersionId"]
    assert versions(s3, vbucket) == [("foo", new, True, False), ("foo", "null", False, False)]
    assert body_of(s3, vbucket, "foo", "null") == b"B"
    assert body_of(s3, vbucket, "foo") == b"C"


def test_case_3_suspended_put_replaces_a_null_version_that_is_not_latest(s3, vbucket) -> None:
    put(s3, vbucket, "foo", b"B")
    set_versioning(s3, vbucket, "Enabled")
    c_id = put(s3, vbucket, "foo", b"C")["VersionId"]
    set_versioning(s3, vbucket, "Suspended")
    assert put(s3, vbucket, "foo", b"D")["VersionId"] == "null"
    assert versions(s3, vbucket) == [("foo", "null", True, False), ("foo", c_id, False, False)]
    assert body_of(s3, vbucket, "foo", "null") == b"D"
    assert body_of(s3, vbucket, "foo", c_id) == b"C"


def test_deleting_the_latest_version_makes_the_previous_one_current(s3, vbucket) -> None:
    set_versioning(s3, vbucket, "Enabled")
    first = put(s3, vbucket, "foo", b"A")["VersionId"]
    second = put(s3, vbucket, "foo", b"B")["VersionId"]
    response = s3.delete_object(Bucket=vbucket, Key="foo", VersionId=second)
    assert response["VersionId"] == second and "DeleteMarker" not in response
    assert body_of(s3, vbucket, "foo") == b"A"
    assert versions(s3, vbucket) == [("foo", first, True, False)]


def test_put_object_with_a_version_id_is_invalid_argument(s3, vbucket) -> None:
    set_versioning(s3, vbucket, "Enabled")
    version = put(s3, vbucket, "foo", b"A")["VersionId"]

    def add_version(request, **_: object) -> None:
        request.url += f"?versionId={version}"

    s3.meta.events.register("before-sign.s3.PutObject", add_version)
    try:
        with pytest.raises(ClientError) as caught:
            put(s3, vbucket, "foo", b"B")
    finally:
        s3.meta.events.unregister("before-sign.s3.PutObject", add_version)
    assert error_of(caught) == ("InvalidArgument", 400)
    assert body_of(s3, vbucket, "foo", version) == b"A"


def test_invalid_and_unknown_version_ids(s3, vbucket) -> None:
    set_versioning(s3, vbucket, "Enabled")
    version = put(s3, vbucket, "foo", b"A")["VersionId"]
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=vbucket, Key="foo", VersionId="not-a-version")
    assert error_of(caught) == ("InvalidArgument", 400)
    s3.delete_object(Bucket=vbucket, Key="foo", VersionId=version)
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=vbucket, Key="foo", VersionId=version)
    assert error_of(caught) == ("NoSuchVersion", 404)
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=vbucket, Key="foo", VersionId="null")
    assert error_of(caught) == ("NoSuchVersion", 404)


# ---- delete markers ----


def test_delete_creates_a_marker_that_hides_the_object(s3, vbucket) -> None:
    set_versioning(s3, vbucket, "Enabled")
    first = put(s3, vbucket, "foo", b"A")["VersionId"]
    deleted = s3.delete_object(Bucket=vbucket, Key="foo")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    assert marker not in (first, "null")
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=vbucket, Key="foo")
    assert error_of(caught) == ("NoSuchKey", 404)
    headers = caught.value.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers["x-amz-delete-marker"] == "true" and headers["x-amz-version-id"] == marker
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=vbucket, Key="foo")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert caught.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=vbucket, Key="foo", VersionId=marker)
    assert error_of(caught) == ("MethodNotAllowed", 405)
    assert caught.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as caught:
        s3.head_object(Bucket=vbucket, Key="foo", VersionId=marker)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 405
    assert "Contents" not in s3.list_objects_v2(Bucket=vbucket)
    assert "Contents" not in s3.list_objects(Bucket=vbucket)
    assert versions(s3, vbucket) == [("foo", marker, True, True), ("foo", first, False, False)]
    # Deleting the marker restores the object.
    removed = s3.delete_object(Bucket=vbucket, Key="foo", VersionId=marker)
    assert removed["DeleteMarker"] is True and removed["VersionId"] == marker
    assert body_of(s3, vbucket, "foo") == b"A"


def test_delete_marker_is_created_for_a_key_that_never_existed(s3, vbucket) -> None:
    set_versioning(s3, vbucket, "Enabled")
    deleted = s3.delete_object(Bucket=vbucket, Key="ghost")
    assert deleted["DeleteMarker"] is True
    assert versions(s3, vbucket) == [("ghost", deleted["VersionId"], True, True)]


def test_suspended_delete_makes_a_null_marker_replacing_the_null_version(s3, vbucket) -> None:
    put(s3, vbucket, "foo", b"A")
    set_versioning(s3, vbucket, "Enabled")
    kept = put(s3, vbucket, "foo", b"B")["VersionId"]
    set_versioning(s3, vbucket, "Suspended")
    deleted = s3.delete_object(Bucket=vbucket, Key="foo")
    assert deleted["DeleteMarker"] is True and deleted["VersionId"] == "null"
    assert versions(s3, vbucket) == [("foo", "null", True, True), ("foo", kept, False, False)]


def test_unversioned_delete_removes_the_object(s3, vbucket) -> None:
    put(s3, vbucket, "foo", b"A")
    deleted = s3.delete_object(Bucket=vbucket, Key="foo")
    assert "DeleteMarker" not in deleted and "VersionId" not in deleted
    assert versions(s3, vbucket) == []
    s3.delete_object(Bucket=vbucket, Key="never-there")  # 204 all the same


VERSION_HEADERS = ("x-amz-version-id", "x-amz-copy-source-version-id", "x-amz-delete-marker")


def version_headers(response: dict) -> dict[str, str]:
    headers = response["ResponseMetadata"]["HTTPHeaders"]
    return {name: headers[name] for name in VERSION_HEADERS if name in headers}


def test_a_bucket_that_never_had_versioning_answers_no_version_headers(s3, vbucket) -> None:
    answers = {"PutObject": put(s3, vbucket, "src", b"source")}
    answers["CopyObject"] = s3.copy_object(
        Bucket=vbucket, Key="copy", CopySource={"Bucket": vbucket, "Key": "src"}
    )
    upload_id = s3.create_multipart_upload(Bucket=vbucket, Key="mpu")["UploadId"]
    answers["UploadPartCopy"] = s3.upload_part_copy(
        Bucket=vbucket,
        Key="mpu",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": vbucket, "Key": "src"},
    )
    etag = answers["UploadPartCopy"]["CopyPartResult"]["ETag"]
    answers["CompleteMultipartUpload"] = s3.complete_multipart_upload(
        Bucket=vbucket,
        Key="mpu",
        UploadId=upload_id,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]},
    )
    answers["HeadObject"] = s3.head_object(Bucket=vbucket, Key="mpu")
    answers["GetObject"] = s3.get_object(Bucket=vbucket, Key="copy")
    answers["DeleteObject"] = s3.delete_object(Bucket=vbucket, Key="copy")
    answers["DeleteObject (absent key)"] = s3.delete_object(Bucket=vbucket, Key="never-there")
    for operation, answer in answers.items():
        assert version_headers(answer) == {}, operation
    deleted = s3.delete_objects(Bucket=vbucket, Delete={"Objects": [{"Key": "src"}, {"Key": "never"}]})
    assert sorted(deleted["Deleted"], key=lambda item: item["Key"]) == [{"Key": "never"}, {"Key": "src"}]


def test_copying_a_null_version_names_it_as_the_copy_source_version(s3, vbucket) -> None:
    put(s3, vbucket, "old", b"from before versioning")
    set_versioning(s3, vbucket, "Enabled")
    newer = put(s3, vbucket, "new", b"versioned")["VersionId"]
    for source in ({"Key": "old"}, {"Key": "old", "VersionId": "null"}, {"Key": "new", "VersionId": newer}):
        copied = s3.copy_object(Bucket=vbucket, Key="copy", CopySource={"Bucket": vbucket, **source})
        headers = version_headers(copied)
        assert headers["x-amz-copy-source-version-id"] == source.get("VersionId", "null")
        assert headers["x-amz-version-id"] == copied["VersionId"] != "null"
    upload_id = s3.create_multipart_upload(Bucket=vbucket, Key="mpu")["UploadId"]
    part = s3.upload_part_copy(
        Bucket=vbucket,
        Key="mpu",
        UploadId=upload_id,
        PartNumber=1,
        CopySource={"Bucket": vbucket, "Key": "old"},
    )
    assert part["CopySourceVersionId"] == "null"
    s3.abort_multipart_upload(Bucket=vbucket, Key="mpu", UploadId=upload_id)


def test_a_suspended_bucket_answers_null_delete_markers(s3, vbucket) -> None:
    set_versioning(s3, vbucket, "Suspended")
    put(s3, vbucket, "a", b"1")
    put(s3, vbucket, "b", b"2")
    deleted = s3.delete_object(Bucket=vbucket, Key="a")
    assert version_headers(deleted) == {"x-amz-delete-marker": "true", "x-amz-version-id": "null"}
    response = s3.delete_objects(Bucket=vbucket, Delete={"Objects": [{"Key": "b"}, {"Key": "never"}]})
    assert sorted(response["Deleted"], key=lambda item: item["Key"]) == [
        {"Key": "b", "DeleteMarker": True, "DeleteMarkerVersionId": "null"},
        {"Key": "never", "DeleteMarker": True, "DeleteMarkerVersionId": "null"},
    ]
    assert sorted((v[0], v[1], v[3]) for v in versions(s3, vbucket)) == [
        ("a", "null", True),
        ("b", "null", True),
        ("never", "null", True),
    ]


def test_deleting_an_unknown_version_succeeds(s3, vbucket) -> None:
    set_versioning(s3, vbucket, "Enabled")
    version = put(s3, vbucket, "foo", b"A")["VersionId"]
    s3.delete_object(Bucket=vbucket, Key="foo", VersionId=version)
    again = s3.delete_object(Bucket=vbucket, Key="foo", VersionId=version)
    assert again["ResponseMetadata"]["HTTPStatusCode"] == 204


# ---- DeleteObjects ----


def test_delete_objects_reports_versions_and_markers(s3, vbucket) -> None:
    set_versioning(s3, vbucket, "Enabled")
    old = put(s3, vbucket, "a", b"1")["VersionId"]
    put(s3, vbucket, "b", b"2")
    response = s3.delete_objects(
        Bucket=vbucket,
        Delete={"Objects": [{"Key": "a", "VersionId": old}, {"Key": "b"}, {"Key": "never"}]},
    )
    deleted = {item["Key"]: item for item in response["Deleted"]}
    assert deleted["a"]["VersionId"] == old and "DeleteMarker" not in deleted["a"]
    for key in ("b", "never"):
        assert deleted[key]["DeleteMarker"] is True and deleted[key]["DeleteMarkerVersionId"]
    assert "Errors" not in response
    markers = s3.list_object_versions(Bucket=vbucket)["DeleteMarkers"]
    assert sorted(m["Key"] for m in markers) == ["b", "never"]
    # Removing a marker by version id reports it as a delete marker.
    b_marker = deleted["b"]["DeleteMarkerVersionId"]
    response = s3.delete_objects(Bucket=vbucket, Delete={"Objects": [{"Key": "b", "VersionId": b_marker}]})
    assert response["Deleted"] == [
        {"Key": "b", "VersionId": b_marker, "DeleteMarker": True, "DeleteMarkerVersionId": b_marker}
    ]
    assert body_of(s3, vbucket, "b") == b"2"


def test_delete_objects_unversioned_quiet_and_errors(s3, vbucket) -> None:
    for key in ("x", "y"):
        put(s3, vbucket, key, b"data")
    response = s3.delete_objects(
        Bucket=vbucket,
        Delete={"Objects": [{"Key": "x"}, {"Key": "y", "VersionId": "bogus"}], "Quiet": True},
    )
    assert "Deleted" not in response
    assert response["Errors"] == [
        {
            "Key": "y",
            "VersionId": "bogus",
            "Code": "InvalidArgument",
            "Message": "Invalid version id specified",
        }
    ]
    assert [item["Key"] for item in s3.list_objects_v2(Bucket=vbucket)["Contents"]] == ["y"]


def test_delete_objects_refuses_malformed_bodies(s3, vbucket) -> None:
    with pytest.raises(ClientError) as caught:
        s3.delete_objects(Bucket=vbucket, Delete={"Objects": []})
    assert error_of(caught) == ("MalformedXML", 400)
    with pytest.raises(ClientError) as caught:
        s3.delete_objects(Bucket=vbucket, Delete={"Objects": [{"Key": f"k{n}"} for n in range(1001)]})
    assert error_of(caught) == ("MalformedXML", 400)


def test_delete_objects_with_content_md5_and_with_a_wrong_checksum(server, vbucket) -> None:
    from tests.integration.conftest import s3_client

    md5_client = s3_client(server.url, request_checksum_calculation="when_required")
    put(md5_client, vbucket, "k", b"v")

    def corrupt(request, **_: object) -> None:
        request.headers.replace_header("x-amz-checksum-crc32", "AAAAAA==")

    client = s3_client(server.url)
    client.meta.events.register("before-sign.s3.DeleteObjects", corrupt)
    with pytest.raises(ClientError) as caught:
        client.delete_objects(Bucket=vbucket, Delete={"Objects": [{"Key": "k"}]})
    assert error_of(caught) == ("BadDigest", 400)
    assert body_of(md5_client, vbucket, "k") == b"v"
    response = md5_client.delete_objects(Bucket=vbucket, Delete={"Objects": [{"Key": "k"}]})
    assert response["Deleted"] == [{"Key": "k"}]


# ---- ListObjectVersions ----


def test_list_object_versions_pages_stitch_to_one_listing(s3, vbucket) -> None:
    put(s3, vbucket, "k0", b"pre")  # a null version from before versioning
    set_versioning(s3, vbucket, "Enabled")
    for key in ("k0", "k1", "k2"):
        for n in range(3):
            put(s3, vbucket, key, f"{key}-{n}".encode())
    s3.delete_object(Bucket=vbucket, Key="k1")
    everything = versions(s3, vbucket)
    assert len(everything) == 11
    stitched: list[tuple[str, str, bool, bool]] = []
    kwargs: dict[str, object] = {}
    for _ in range(20):
        entries, page = raw_versions_page(s3, vbucket, MaxKeys=2, **kwargs)
        assert len(entries) <= 2
        stitched.extend(entries)
        if not page["IsTruncated"]:
            break
        kwargs = {"KeyMarker": page["NextKeyMarker"], "VersionIdMarker": page["NextVersionIdMarker"]}
    assert stitched == everything


def test_list_object_versions_prefix_delimiter_and_encoding(s3, vbucket) -> None:
    set_versioning(s3, vbucket, "Enabled")
    for key in ("dir/a", "dir/b", "top", "sp ace"):
        put(s3, vbucket, key, b"x")
        put(s3, vbucket, key, b"y")
    listing = s3.list_object_versions(Bucket=vbucket, Delimiter="/")
    assert [p["Prefix"] for p in listing["CommonPrefixes"]] == ["dir/"]
    assert sorted({v["Key"] for v in listing["Versions"]}) == ["sp ace", "top"]
    listing = s3.list_object_versions(Bucket=vbucket, Prefix="dir/")
    assert [v["Key"] for v in listing["Versions"]] == ["dir/a", "dir/a", "dir/b", "dir/b"]
    assert [v["IsLatest"] for v in listing["Versions"]] == [True, False, True, False]
    raw = s3.list_object_versions(Bucket=vbucket, Prefix="sp", EncodingType="url")
    assert {v["Key"] for v in raw["Versions"]} == {"sp%20ace"}  # asked for explicitly: left encoded


def test_version_id_marker_needs_a_key_marker(s3, vbucket) -> None:
    with pytest.raises(ClientError) as caught:
        s3.list_object_versions(Bucket=vbucket, VersionIdMarker="null")
    assert error_of(caught) == ("InvalidArgument", 400)
