"""Object ownership controls and the public access block, end to end with boto3."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

BART_ID = "5ce086747eb8ab8577d9908e3cd9334499b1f37c2526e1b436936ea8b5b8ba14"
LISA_ID = "daa27b9d5c4a3f349b34e2b9e8e9545dbb9a48564dfc5590e9b085716fc2c84a"
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
ALL_FLAGS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")


@pytest.fixture
def shared_bucket(s3) -> Iterator[str]:
    name = f"own-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    yield name
    s3.delete_public_access_block(Bucket=name)
    s3.delete_bucket_ownership_controls(Bucket=name)
    s3.put_bucket_acl(Bucket=name, ACL="private")
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]["Code"]


def ownership(s3, bucket: str, rule: str) -> None:
    s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={"Rules": [{"ObjectOwnership": rule}]})


# ---- ownership controls ---------------------------------------------------------------------------


def test_ownership_controls_round_trip(s3, other, shared_bucket) -> None:
    assert (
        error_code(s3.get_bucket_ownership_controls, Bucket=shared_bucket) == "OwnershipControlsNotFoundError"
    )
    for rule in ("BucketOwnerPreferred", "ObjectWriter", "BucketOwnerEnforced"):
        ownership(s3, shared_bucket, rule)
        rules = s3.get_bucket_ownership_controls(Bucket=shared_bucket)["OwnershipControls"]["Rules"]
        assert rules == [{"ObjectOwnership": rule}]
    assert error_code(other.get_bucket_ownership_controls, Bucket=shared_bucket) == "AccessDenied"
    assert error_code(ownership, other, shared_bucket, "ObjectWriter") == "AccessDenied"
    assert error_code(ownership, s3, shared_bucket, "Everybody") == "MalformedXML"
    s3.delete_bucket_ownership_controls(Bucket=shared_bucket)
    assert (
        error_code(s3.get_bucket_ownership_controls, Bucket=shared_bucket) == "OwnershipControlsNotFoundError"
    )


def test_bucket_owner_enforced_disables_acls(s3, other, anonymous, shared_bucket) -> None:
    s3.put_bucket_acl(Bucket=shared_bucket, GrantWrite=f"id={LISA_ID}")
    # A bucket whose ACL grants someone cannot switch ACLs off: that access would silently go.
    assert (
        error_code(ownership, s3, shared_bucket, "BucketOwnerEnforced")
        == "InvalidBucketAclWithObjectOwnership"
    )
    s3.put_bucket_acl(Bucket=shared_bucket, ACL="private")
    ownership(s3, shared_bucket, "BucketOwnerEnforced")
    code = error_code(s3.put_object, Bucket=shared_bucket, Key="k", Body=b"x", ACL="public-read")
    assert code == "AccessControlListNotSupported"
    assert (
        error_code(s3.put_bucket_acl, Bucket=shared_bucket, ACL="public-read")
        == "AccessControlListNotSupported"
    )
    s3.put_object(Bucket=shared_bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    s3.put_object(Bucket=shared_bucket, Key="plain", Body=b"x")
    code = error_code(s3.put_object_acl, Bucket=shared_bucket, Key="k", GrantRead=f"id={LISA_ID}")
    assert code == "AccessControlListNotSupported"
    acl = s3.get_object_acl(Bucket=shared_bucket, Key="k")
    assert [(g["Grantee"]["ID"], g["Permission"]) for g in acl["Grants"]] == [(BART_ID, "FULL_CONTROL")]
    assert error_code(other.get_object, Bucket=shared_bucket, Key="k") == "AccessDenied"
    assert error_code(anonymous.get_object, Bucket=shared_bucket, Key="k") == "AccessDenied"


def test_bucket_owner_enforced_makes_the_bucket_owner_own_what_others_write(s3, other, shared_bucket) -> None:
    s3.put_bucket_acl(Bucket=shared_bucket, GrantWrite=f"id={LISA_ID}")
    other.put_object(Bucket=shared_bucket, Key="before", Body=b"x")
    s3.put_bucket_acl(Bucket=shared_bucket, ACL="private")
    ownership(s3, shared_bucket, "BucketOwnerEnforced")
    # The object Lisa wrote while ACLs applied was hers; with ACLs disabled the bucket's owner controls it.
    assert s3.get_object(Bucket=shared_bucket, Key="before")["Body"].read() == b"x"
    acl = s3.get_object_acl(Bucket=shared_bucket, Key="before")
    assert acl["Owner"]["ID"] == BART_ID
    assert [(g["Grantee"]["ID"], g["Permission"]) for g in acl["Grants"]] == [(BART_ID, "FULL_CONTROL")]
    # Listings say the same of it.
    listed = s3.list_objects_v2(Bucket=shared_bucket, FetchOwner=True)["Contents"]
    assert [(item["Key"], item["Owner"]["ID"]) for item in listed] == [("before", BART_ID)]
    assert [item["Owner"]["ID"] for item in s3.list_objects(Bucket=shared_bucket)["Contents"]] == [BART_ID]
    versions = s3.list_object_versions(Bucket=shared_bucket)["Versions"]
    assert [item["Owner"]["ID"] for item in versions] == [BART_ID]
    # Back to ObjectWriter, the writer recorded is shown again.
    ownership(s3, shared_bucket, "ObjectWriter")
    listed = s3.list_objects_v2(Bucket=shared_bucket, FetchOwner=True)["Contents"]
    assert [item["Owner"]["ID"] for item in listed] == [LISA_ID]


def test_bucket_owner_preferred_takes_objects_written_with_bucket_owner_full_control(
    s3, other, shared_bucket
) -> None:
    ownership(s3, shared_bucket, "BucketOwnerPreferred")
    s3.put_bucket_acl(Bucket=shared_bucket, GrantWrite=f"id={LISA_ID}")
    other.put_object(Bucket=shared_bucket, Key="given", Body=b"x", ACL="bucket-owner-full-control")
    other.put_object(Bucket=shared_bucket, Key="kept", Body=b"x")
    listed = {
        item["Key"]: item["Owner"]["ID"]
        for item in s3.list_objects_v2(Bucket=shared_bucket, FetchOwner=True)["Contents"]
    }
    assert listed == {"given": BART_ID, "kept": LISA_ID}
    assert s3.get_object(Bucket=shared_bucket, Key="given")["Body"].read() == b"x"
    assert error_code(s3.get_object, Bucket=shared_bucket, Key="kept") == "AccessDenied"


def test_object_ownership_header_on_create_bucket(s3, other) -> None:
    name = f"own-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name, ObjectOwnership="BucketOwnerEnforced")
    try:
        assert (
            error_code(s3.put_object, Bucket=name, Key="k", Body=b"x", ACL="public-read")
            == "AccessControlListNotSupported"
        )
    finally:
        s3.delete_bucket(Bucket=name)
    code = error_code(s3.create_bucket, Bucket=name, ObjectOwnership="BucketOwnerEnforced", ACL="public-read")
    assert code == "InvalidBucketAclWithObjectOwnership"
    assert name not in [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]]


# ---- public access block --------------------------------------------------------------------------


def put_block(s3, bucket: str, **flags: bool) -> None:
    s3.put_public_access_block(Bucket=bucket, PublicAccessBlockConfiguration=flags)


def test_public_access_block_round_trip(s3, other, shared_bucket) -> None:
    code = error_code(s3.get_public_access_block, Bucket=shared_bucket)
    assert code == "NoSuchPublicAccessBlockConfiguration"
    put_block(s3, shared_bucket, BlockPublicAcls=True, RestrictPublicBuckets=True)
    stored = s3.get_public_access_block(Bucket=shared_bucket)["PublicAccessBlockConfiguration"]
    assert stored == {
        "BlockPublicAcls": True,
        "IgnorePublicAcls": False,
        "BlockPublicPolicy": False,
        "RestrictPublicBuckets": True,
    }
    put_block(s3, shared_bucket, **{flag: True for flag in ALL_FLAGS})
    stored = s3.get_public_access_block(Bucket=shared_bucket)["PublicAccessBlockConfiguration"]
    assert stored == {flag: True for flag in ALL_FLAGS}
    assert error_code(other.get_public_access_block, Bucket=shared_bucket) == "AccessDenied"
    assert error_code(other.delete_public_access_block, Bucket=shared_bucket) == "AccessDenied"
    s3.delete_public_access_block(Bucket=shared_bucket)
    assert (
        error_code(s3.get_public_access_block, Bucket=shared_bucket) == "NoSuchPublicAccessBlockConfiguration"
    )


def test_block_public_acls_refuses_public_acls_and_keeps_private_ones(s3, shared_bucket) -> None:
    put_block(s3, shared_bucket, BlockPublicAcls=True)
    assert (
        error_code(s3.put_object, Bucket=shared_bucket, Key="k", Body=b"x", ACL="public-read")
        == "AccessDenied"
    )
    assert error_code(s3.put_bucket_acl, Bucket=shared_bucket, ACL="public-read-write") == "AccessDenied"
    assert (
        error_code(s3.put_bucket_acl, Bucket=shared_bucket, GrantRead=f'uri="{ALL_USERS}"') == "AccessDenied"
    )
    assert (
        error_code(s3.create_multipart_upload, Bucket=shared_bucket, Key="m", ACL="authenticated-read")
        == "AccessDenied"
    )
    assert "Contents" not in s3.list_objects_v2(Bucket=shared_bucket)
    s3.put_object(Bucket=shared_bucket, Key="k", Body=b"x", ACL="private")
    s3.put_object_acl(Bucket=shared_bucket, Key="k", GrantRead=f"id={LISA_ID}")
    assert error_code(s3.put_object_acl, Bucket=shared_bucket, Key="k", ACL="public-read") == "AccessDenied"


def test_ignore_public_acls_stops_public_grants_counting(s3, anonymous, shared_bucket) -> None:
    s3.put_object(Bucket=shared_bucket, Key="public", Body=b"x", ACL="public-read")
    assert anonymous.get_object(Bucket=shared_bucket, Key="public")["Body"].read() == b"x"
    put_block(s3, shared_bucket, IgnorePublicAcls=True)
    assert error_code(anonymous.get_object, Bucket=shared_bucket, Key="public") == "AccessDenied"
    # The ACL itself is kept: lifting the block makes it count again.
    s3.delete_public_access_block(Bucket=shared_bucket)
    assert anonymous.get_object(Bucket=shared_bucket, Key="public")["Body"].read() == b"x"


def test_malformed_public_access_block_is_malformed_xml(s3, shared_bucket) -> None:
    def put(body: bytes) -> None:
        def replace_body(request, **_) -> None:
            request.data = body
            for name in [
                n
                for n in request.headers
                if n.lower().startswith(("content-md5", "x-amz-checksum", "x-amz-sdk-checksum"))
            ]:
                del request.headers[name]

        s3.meta.events.register_first(
            "before-sign.s3.PutPublicAccessBlock", replace_body, unique_id="raw-pab"
        )
        try:
            put_block(s3, shared_bucket, BlockPublicAcls=True)
        finally:
            s3.meta.events.unregister("before-sign.s3.PutPublicAccessBlock", unique_id="raw-pab")

    for body in (
        b"<PublicAccessBlockConfiguration><BlockPublicAcls>yes</BlockPublicAcls></PublicAccessBlockConfiguration>",
        b"<PublicAccessBlockConfiguration><Other>true</Other></PublicAccessBlockConfiguration>",
        b"<Wrong/>",
    ):
        with pytest.raises(ClientError) as raised:
            put(body)
        assert raised.value.response["Error"]["Code"] == "MalformedXML"
    assert (
        error_code(s3.get_public_access_block, Bucket=shared_bucket) == "NoSuchPublicAccessBlockConfiguration"
    )
