from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.integration.test_buckets import error_of


def tag_set(pairs: dict[str, str]) -> dict:
    return {"TagSet": [{"Key": key, "Value": value} for key, value in pairs.items()]}


def as_dict(response: dict) -> dict[str, str]:
    return {tag["Key"]: tag["Value"] for tag in response["TagSet"]}


def test_object_tagging_round_trip(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"data", ContentType="text/plain", Metadata={"m": "1"})
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set({"a": "1", "b": ""}))
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"a": "1", "b": ""}
    got = s3.get_object(Bucket=bucket, Key="k")
    assert got["TagCount"] == 2
    # Tagging changes nothing else about the object.
    assert got["Body"].read() == b"data"
    assert got["ContentType"] == "text/plain"
    assert got["Metadata"] == {"m": "1"}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set({"c": "3"}))
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"c": "3"}
    assert s3.delete_object_tagging(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
    assert "TagCount" not in s3.head_object(Bucket=bucket, Key="k")


def test_tagging_header_on_put(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="project=strata&empty=&sp%20ace=a%2Bb")
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == {
        "project": "strata",
        "empty": "",
        "sp ace": "a+b",
    }
    assert (
        s3.head_object(Bucket=bucket, Key="k")["ResponseMetadata"]["HTTPHeaders"]["x-amz-tagging-count"]
        == "3"
    )


@pytest.mark.parametrize(
    "tags",
    [
        {f"k{i}": "v" for i in range(11)},
        {"k" * 129: "v"},
        {"k": "v" * 257},
        {"aws:reserved": "v"},
    ],
)
def test_invalid_object_tags_are_rejected_and_change_nothing(s3, bucket, tags: dict[str, str]) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging="keep=me")
    with pytest.raises(ClientError) as excinfo:
        s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(tags))
    assert error_of(excinfo) == ("InvalidTag", 400)
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == {"keep": "me"}


def test_limits_are_inclusive(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    tags = {f"{i}".rjust(128, "k"): "v" * 256 for i in range(10)}
    s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set(tags))
    assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k")) == tags


def test_duplicate_tag_keys_are_invalid(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    with pytest.raises(ClientError) as excinfo:
        s3.put_object_tagging(
            Bucket=bucket,
            Key="k",
            Tagging={"TagSet": [{"Key": "a", "Value": "1"}, {"Key": "a", "Value": "2"}]},
        )
    assert error_of(excinfo) == ("InvalidTag", 400)


def test_invalid_tagging_header_stores_nothing(s3, bucket) -> None:
    many = "&".join(f"k{i}=v" for i in range(11))
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", Tagging=many)
    assert error_of(excinfo) == ("InvalidTag", 400)
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=bucket, Key="k")
    assert error_of(excinfo)[1] == 404


def test_tagging_a_missing_object_is_no_such_key(s3, bucket) -> None:
    for call in (
        lambda: s3.get_object_tagging(Bucket=bucket, Key="absent"),
        lambda: s3.put_object_tagging(Bucket=bucket, Key="absent", Tagging=tag_set({"a": "b"})),
        lambda: s3.delete_object_tagging(Bucket=bucket, Key="absent"),
    ):
        with pytest.raises(ClientError) as excinfo:
            call()
        assert error_of(excinfo) == ("NoSuchKey", 404)


def test_malformed_tagging_xml(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")

    def broken_body(request, **kwargs) -> None:
        request.data = b"<Tagging><TagSet><Tag><Key>a</Key></Tag></TagSet></Tagging>"
        for name in [
            h
            for h in request.headers
            if h.lower().startswith(("x-amz-checksum-", "x-amz-sdk-checksum-", "content-md5"))
        ]:
            del request.headers[name]

    s3.meta.events.register_first("before-sign.s3.PutObjectTagging", broken_body)
    try:
        with pytest.raises(ClientError) as excinfo:
            s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set({"a": "b"}))
        assert error_of(excinfo) == ("MalformedXML", 400)
    finally:
        s3.meta.events.unregister("before-sign.s3.PutObjectTagging", broken_body)


def test_bucket_tagging_round_trip(s3, bucket) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error_of(excinfo) == ("NoSuchTagSet", 404)
    tags = {f"key{i}": f"value{i}" for i in range(50)}
    s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set(tags))
    assert as_dict(s3.get_bucket_tagging(Bucket=bucket)) == tags
    with pytest.raises(ClientError) as excinfo:
        s3.put_bucket_tagging(Bucket=bucket, Tagging=tag_set({f"k{i}": "v" for i in range(51)}))
    assert error_of(excinfo) == ("InvalidTag", 400)
    assert as_dict(s3.get_bucket_tagging(Bucket=bucket)) == tags
    s3.delete_bucket_tagging(Bucket=bucket)
    with pytest.raises(ClientError) as excinfo:
        s3.get_bucket_tagging(Bucket=bucket)
    assert error_of(excinfo) == ("NoSuchTagSet", 404)
    # Tagging keeps the rest of the bucket.
    assert s3.head_bucket(Bucket=bucket)["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_tagging_a_specific_version(s3, bucket) -> None:
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    try:
        old = s3.put_object(Bucket=bucket, Key="k", Body=b"old")["VersionId"]
        new = s3.put_object(Bucket=bucket, Key="k", Body=b"new")["VersionId"]
        response = s3.put_object_tagging(Bucket=bucket, Key="k", VersionId=old, Tagging=tag_set({"v": "old"}))
        assert response["VersionId"] == old
        assert as_dict(s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=old)) == {"v": "old"}
        assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
        # The current version and the old version's data and date are untouched.
        assert s3.get_object(Bucket=bucket, Key="k")["VersionId"] == new
        assert s3.get_object(Bucket=bucket, Key="k", VersionId=old)["Body"].read() == b"old"
        s3.delete_object_tagging(Bucket=bucket, Key="k", VersionId=old)
        assert s3.get_object_tagging(Bucket=bucket, Key="k", VersionId=old)["TagSet"] == []
    finally:
        for version in s3.list_object_versions(Bucket=bucket).get("Versions", []):
            s3.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])


def test_tagging_body_with_a_wrong_checksum_is_rejected(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")

    def corrupt_body(request, **kwargs) -> None:
        request.data = request.data.replace(b"<Value>1</Value>", b"<Value>2</Value>")

    s3.meta.events.register("before-sign.s3.PutObjectTagging", corrupt_body)
    try:
        with pytest.raises(ClientError) as excinfo:
            s3.put_object_tagging(Bucket=bucket, Key="k", Tagging=tag_set({"a": "1"}))
        assert error_of(excinfo) == ("BadDigest", 400)
    finally:
        s3.meta.events.unregister("before-sign.s3.PutObjectTagging", corrupt_body)
    assert s3.get_object_tagging(Bucket=bucket, Key="k")["TagSet"] == []
