"""ACLs end to end with boto3: canned ACLs, grant headers and bodies, cross-account and anonymous access."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from strata.testing.embedded import EmbeddedThread

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
BART_ID = "5ce086747eb8ab8577d9908e3cd9334499b1f37c2526e1b436936ea8b5b8ba14"
LISA_ID = "daa27b9d5c4a3f349b34e2b9e8e9545dbb9a48564dfc5590e9b085716fc2c84a"


@pytest.fixture
def shared_bucket(s3, other) -> Iterator[str]:
    """A bucket of the first account that tests may open to others; emptied by both accounts."""
    name = f"acl-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name)
    yield name
    s3.put_bucket_acl(Bucket=name, ACL="private")
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for item in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=item["Key"], VersionId=item["VersionId"])
    s3.delete_bucket(Bucket=name)


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]["Code"]


def grants(acl: dict) -> set[tuple[str, str, str]]:
    found = set()
    for grant in acl["Grants"]:
        grantee = grant["Grantee"]
        found.add((grantee["Type"], grantee.get("ID") or grantee.get("URI", ""), grant["Permission"]))
    return found


def test_default_acls_are_the_owners_full_control(s3, shared_bucket) -> None:
    acl = s3.get_bucket_acl(Bucket=shared_bucket)
    assert acl["Owner"] == {"ID": BART_ID, "DisplayName": "Bart"}
    assert grants(acl) == {("CanonicalUser", BART_ID, "FULL_CONTROL")}
    s3.put_object(Bucket=shared_bucket, Key="k", Body=b"x")
    assert grants(s3.get_object_acl(Bucket=shared_bucket, Key="k")) == {
        ("CanonicalUser", BART_ID, "FULL_CONTROL")
    }


@pytest.mark.parametrize(
    ("canned", "expected"),
    [
        ("private", set()),
        ("public-read", {("Group", ALL_USERS, "READ")}),
        ("public-read-write", {("Group", ALL_USERS, "READ"), ("Group", ALL_USERS, "WRITE")}),
        ("authenticated-read", {("Group", AUTHENTICATED_USERS, "READ")}),
        ("log-delivery-write", {("Group", LOG_DELIVERY, "WRITE"), ("Group", LOG_DELIVERY, "READ_ACP")}),
    ],
)
def test_canned_acls_on_create_bucket_and_put_bucket_acl(s3, canned: str, expected: set) -> None:
    name = f"acl-{uuid.uuid4().hex[:16]}"
    s3.create_bucket(Bucket=name, ACL=canned)
    try:
        owner = {("CanonicalUser", BART_ID, "FULL_CONTROL")}
        assert grants(s3.get_bucket_acl(Bucket=name)) == owner | expected
        s3.put_bucket_acl(Bucket=name, ACL="private")
        assert grants(s3.get_bucket_acl(Bucket=name)) == owner
        s3.put_bucket_acl(Bucket=name, ACL=canned)
        assert grants(s3.get_bucket_acl(Bucket=name)) == owner | expected
    finally:
        s3.delete_bucket(Bucket=name)


def test_anonymous_reads_a_public_read_object_and_nothing_else(s3, anonymous, shared_bucket) -> None:
    s3.put_object(Bucket=shared_bucket, Key="public", Body=b"hello", ACL="public-read")
    s3.put_object(Bucket=shared_bucket, Key="private", Body=b"secret")
    assert anonymous.get_object(Bucket=shared_bucket, Key="public")["Body"].read() == b"hello"
    assert anonymous.head_object(Bucket=shared_bucket, Key="public")["ContentLength"] == 5
    assert error_code(anonymous.get_object, Bucket=shared_bucket, Key="private") == "AccessDenied"
    # Without the right to list the bucket, a missing key is AccessDenied too (nothing leaks).
    assert error_code(anonymous.get_object, Bucket=shared_bucket, Key="missing") == "AccessDenied"
    assert error_code(anonymous.list_objects_v2, Bucket=shared_bucket) == "AccessDenied"
    assert error_code(anonymous.put_object, Bucket=shared_bucket, Key="x", Body=b"x") == "AccessDenied"
    assert error_code(anonymous.get_object_acl, Bucket=shared_bucket, Key="public") == "AccessDenied"
    assert error_code(anonymous.list_buckets) == "AccessDenied"


def test_public_read_write_bucket_lets_anonymous_list_and_write(s3, anonymous, shared_bucket) -> None:
    s3.put_bucket_acl(Bucket=shared_bucket, ACL="public-read-write")
    anonymous.put_object(Bucket=shared_bucket, Key="dropped", Body=b"in")
    listed = anonymous.list_objects_v2(Bucket=shared_bucket)
    assert [item["Key"] for item in listed["Contents"]] == ["dropped"]
    assert error_code(anonymous.get_object, Bucket=shared_bucket, Key="missing") == "NoSuchKey"
    # The bucket's owner owns what an anonymous request wrote.
    assert s3.get_object_acl(Bucket=shared_bucket, Key="dropped")["Owner"]["ID"] == BART_ID
    assert error_code(anonymous.get_bucket_acl, Bucket=shared_bucket) == "AccessDenied"
    assert error_code(anonymous.put_bucket_acl, Bucket=shared_bucket, ACL="private") == "AccessDenied"


def test_authenticated_read_opens_to_other_accounts_not_to_anonymous(
    s3, other, anonymous, shared_bucket
) -> None:
    s3.put_object(Bucket=shared_bucket, Key="k", Body=b"data", ACL="authenticated-read")
    assert other.get_object(Bucket=shared_bucket, Key="k")["Body"].read() == b"data"
    assert error_code(anonymous.get_object, Bucket=shared_bucket, Key="k") == "AccessDenied"


def test_cross_account_grants_by_id_and_email(s3, other, shared_bucket) -> None:
    assert error_code(other.list_objects_v2, Bucket=shared_bucket) == "AccessDenied"
    s3.put_bucket_acl(
        Bucket=shared_bucket, GrantRead=f'id="{LISA_ID}"', GrantWrite='emailAddress="lisa@strata.local"'
    )
    assert grants(s3.get_bucket_acl(Bucket=shared_bucket)) == {
        ("CanonicalUser", LISA_ID, "READ"),
        ("CanonicalUser", LISA_ID, "WRITE"),
    }
    # The bucket's owner gave itself no grant: owning the bucket is enough.
    s3.put_object(Bucket=shared_bucket, Key="mine", Body=b"bart")
    other.put_object(Bucket=shared_bucket, Key="lisas", Body=b"lisa")
    keys = [item["Key"] for item in other.list_objects_v2(Bucket=shared_bucket)["Contents"]]
    assert keys == ["lisas", "mine"]
    # The writer owns its object (object writer ownership): the bucket's owner may not read it...
    assert other.get_object_acl(Bucket=shared_bucket, Key="lisas")["Owner"]["ID"] == LISA_ID
    assert error_code(s3.get_object, Bucket=shared_bucket, Key="lisas") == "AccessDenied"
    assert error_code(s3.get_object_acl, Bucket=shared_bucket, Key="lisas") == "AccessDenied"
    # ...until the writer grants it; and Lisa may not read Bart's object without a grant.
    other.put_object_acl(Bucket=shared_bucket, Key="lisas", ACL="bucket-owner-read")
    assert s3.get_object(Bucket=shared_bucket, Key="lisas")["Body"].read() == b"lisa"
    assert error_code(other.get_object, Bucket=shared_bucket, Key="mine") == "AccessDenied"
    assert error_code(other.get_bucket_acl, Bucket=shared_bucket) == "AccessDenied"
    assert (
        error_code(
            other.put_bucket_versioning, Bucket=shared_bucket, VersioningConfiguration={"Status": "Enabled"}
        )
        == "AccessDenied"
    )
    other.delete_object(Bucket=shared_bucket, Key="mine")  # WRITE on the bucket deletes any object


def test_bucket_owner_full_control_on_put_gives_the_bucket_owner_control(s3, other, shared_bucket) -> None:
    s3.put_bucket_acl(Bucket=shared_bucket, GrantWrite=f"id={LISA_ID}")
    other.put_object(Bucket=shared_bucket, Key="k", Body=b"x", ACL="bucket-owner-full-control")
    assert grants(other.get_object_acl(Bucket=shared_bucket, Key="k")) == {
        ("CanonicalUser", LISA_ID, "FULL_CONTROL"),
        ("CanonicalUser", BART_ID, "FULL_CONTROL"),
    }


def test_acl_body_round_trips_and_is_checked(s3, shared_bucket) -> None:
    policy = {
        "Owner": {"ID": BART_ID},
        "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": BART_ID}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "READ"},
            {
                "Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "lisa@strata.local"},
                "Permission": "WRITE_ACP",
            },
        ],
    }
    s3.put_bucket_acl(Bucket=shared_bucket, AccessControlPolicy=policy)
    acl = s3.get_bucket_acl(Bucket=shared_bucket)
    assert grants(acl) == {
        ("CanonicalUser", BART_ID, "FULL_CONTROL"),
        ("Group", ALL_USERS, "READ"),
        ("CanonicalUser", LISA_ID, "WRITE_ACP"),
    }
    assert {"ID": LISA_ID, "DisplayName": "Lisa", "Type": "CanonicalUser"} in [
        g["Grantee"] for g in acl["Grants"]
    ]
    unknown = {
        **policy,
        "Grants": [
            {"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": "nobody@x"}, "Permission": "READ"}
        ],
    }
    assert (
        error_code(s3.put_bucket_acl, Bucket=shared_bucket, AccessControlPolicy=unknown)
        == "UnresolvableGrantByEmailAddress"
    )
    bad_permission = {
        **policy,
        "Grants": [{"Grantee": {"Type": "Group", "URI": ALL_USERS}, "Permission": "EVERYTHING"}],
    }
    assert (
        error_code(s3.put_bucket_acl, Bucket=shared_bucket, AccessControlPolicy=bad_permission)
        == "MalformedACLError"
    )
    assert (
        error_code(s3.put_bucket_acl, Bucket=shared_bucket, AccessControlPolicy=policy, ACL="private")
        == "InvalidRequest"
    )
    assert (
        error_code(s3.put_bucket_acl, Bucket=shared_bucket, GrantRead='emailAddress="nobody@x"')
        == "UnresolvableGrantByEmailAddress"
    )
    assert (
        error_code(s3.put_bucket_acl, Bucket=shared_bucket, GrantRead='uri="http://example.com/g"')
        == "InvalidArgument"
    )
    assert (
        error_code(s3.put_bucket_acl, Bucket=shared_bucket, ACL="private", GrantRead=f"id={LISA_ID}")
        == "InvalidRequest"
    )


def test_malformed_acl_body_is_malformed_acl_error(server: EmbeddedThread, s3, shared_bucket) -> None:
    def put(body: bytes) -> None:
        def replace_body(request, **_) -> None:
            request.data = body
            for name in [
                name
                for name in request.headers
                if name.lower().startswith(("content-md5", "x-amz-checksum", "x-amz-sdk-checksum"))
            ]:
                del request.headers[name]

        s3.meta.events.register_first("before-sign.s3.PutBucketAcl", replace_body, unique_id="raw-acl")
        try:
            s3.put_bucket_acl(
                Bucket=shared_bucket, AccessControlPolicy={"Owner": {"ID": BART_ID}, "Grants": []}
            )
        finally:
            s3.meta.events.unregister("before-sign.s3.PutBucketAcl", unique_id="raw-acl")

    for body in (
        b"<AccessControlPolicy><Owner>",
        b"<AccessControlPolicy><AccessControlList/></AccessControlPolicy>",
        f"<AccessControlPolicy><Owner><ID>{BART_ID}</ID></Owner><AccessControlList><Grant><Grantee>"
        "<Nobody>x</Nobody></Grantee><Permission>READ</Permission></Grant></AccessControlList>"
        "</AccessControlPolicy>".encode(),
    ):
        with pytest.raises(ClientError) as raised:
            put(body)
        assert raised.value.response["Error"]["Code"] == "MalformedACLError", body
    other_owner = (
        f"<AccessControlPolicy><Owner><ID>{LISA_ID}</ID></Owner><AccessControlList/></AccessControlPolicy>"
    )
    with pytest.raises(ClientError) as raised:
        put(other_owner.encode())
    assert raised.value.response["Error"]["Code"] == "AccessDenied"


def test_object_acl_of_a_version(s3, shared_bucket) -> None:
    s3.put_bucket_versioning(Bucket=shared_bucket, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=shared_bucket, Key="k", Body=b"1")["VersionId"]
    s3.put_object(Bucket=shared_bucket, Key="k", Body=b"2")
    s3.put_object_acl(Bucket=shared_bucket, Key="k", VersionId=first, ACL="public-read")
    assert ("Group", ALL_USERS, "READ") in grants(
        s3.get_object_acl(Bucket=shared_bucket, Key="k", VersionId=first)
    )
    assert ("Group", ALL_USERS, "READ") not in grants(s3.get_object_acl(Bucket=shared_bucket, Key="k"))


def test_canned_acl_on_copy_multipart_and_form_upload(s3, anonymous, shared_bucket) -> None:
    s3.put_object(Bucket=shared_bucket, Key="source", Body=b"abc", ACL="public-read")
    s3.copy_object(Bucket=shared_bucket, Key="copy", CopySource={"Bucket": shared_bucket, "Key": "source"})
    # A copy gets the request's ACL, never the source's.
    assert error_code(anonymous.get_object, Bucket=shared_bucket, Key="copy") == "AccessDenied"
    s3.copy_object(
        Bucket=shared_bucket,
        Key="copy",
        CopySource={"Bucket": shared_bucket, "Key": "source"},
        ACL="public-read",
    )
    assert anonymous.get_object(Bucket=shared_bucket, Key="copy")["Body"].read() == b"abc"

    upload = s3.create_multipart_upload(Bucket=shared_bucket, Key="mpu", ACL="public-read")["UploadId"]
    part = s3.upload_part(Bucket=shared_bucket, Key="mpu", UploadId=upload, PartNumber=1, Body=b"part")
    s3.complete_multipart_upload(
        Bucket=shared_bucket, Key="mpu", UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
    )  # fmt: skip
    assert anonymous.get_object(Bucket=shared_bucket, Key="mpu")["Body"].read() == b"part"

    import requests

    form = s3.generate_presigned_post(
        shared_bucket, "posted", Fields={"acl": "public-read"}, Conditions=[{"acl": "public-read"}]
    )
    answer = requests.post(form["url"], data=form["fields"], files={"file": ("f", b"form")}, timeout=10)
    assert answer.status_code == 204, answer.text
    assert anonymous.get_object(Bucket=shared_bucket, Key="posted")["Body"].read() == b"form"


def test_anonymous_form_upload_needs_a_public_write_bucket(s3, server: EmbeddedThread, shared_bucket) -> None:
    import requests

    url = f"{server.url}/{shared_bucket}"
    denied = requests.post(url, data={"key": "anon"}, files={"file": ("f", b"x")}, timeout=10)
    assert denied.status_code == 403 and b"AccessDenied" in denied.content
    s3.put_bucket_acl(Bucket=shared_bucket, ACL="public-read-write")
    allowed = requests.post(url, data={"key": "anon"}, files={"file": ("f", b"x")}, timeout=10)
    assert allowed.status_code == 204, allowed.text
    assert s3.get_object(Bucket=shared_bucket, Key="anon")["Body"].read() == b"x"


def test_copy_needs_read_on_the_source(s3, other, shared_bucket) -> None:
    s3.put_object(Bucket=shared_bucket, Key="src", Body=b"abc")
    target = f"acl-{uuid.uuid4().hex[:16]}"
    other.create_bucket(Bucket=target)
    try:
        source = {"Bucket": shared_bucket, "Key": "src"}
        assert error_code(other.copy_object, Bucket=target, Key="c", CopySource=source) == "AccessDenied"
        missing = {"Bucket": shared_bucket, "Key": "missing"}
        assert error_code(other.copy_object, Bucket=target, Key="c", CopySource=missing) == "AccessDenied"
        assert error_code(s3.copy_object, Bucket=shared_bucket, Key="c", CopySource=missing) == "NoSuchKey"
        s3.put_object_acl(Bucket=shared_bucket, Key="src", GrantRead=f"id={LISA_ID}")
        other.copy_object(Bucket=target, Key="c", CopySource=source)
        assert other.get_object(Bucket=target, Key="c")["Body"].read() == b"abc"
        other.delete_object(Bucket=target, Key="c")
    finally:
        other.delete_bucket(Bucket=target)


def test_listings_show_owners_by_canonical_id_and_name(s3, other, shared_bucket) -> None:
    s3.put_bucket_acl(Bucket=shared_bucket, GrantWrite=f"id={LISA_ID}")
    other.put_object(Bucket=shared_bucket, Key="lisas", Body=b"x")
    listed = s3.list_objects_v2(Bucket=shared_bucket, FetchOwner=True)["Contents"]
    assert listed[0]["Owner"] == {"ID": LISA_ID, "DisplayName": "Lisa"}
    assert s3.list_objects(Bucket=shared_bucket)["Contents"][0]["Owner"] == {
        "ID": LISA_ID,
        "DisplayName": "Lisa",
    }
    assert s3.list_object_versions(Bucket=shared_bucket)["Versions"][0]["Owner"]["ID"] == LISA_ID
    assert s3.list_buckets()["Owner"] == {"ID": BART_ID, "DisplayName": "Bart"}
