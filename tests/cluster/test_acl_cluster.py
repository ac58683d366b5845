"""ACLs through gateways and metanodes in separate processes: what one gateway stores, another enforces."""

from __future__ import annotations

import uuid

import boto3
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

from strata.testing.cluster import LocalCluster
from tests.integration.conftest import OTHER_ACCESS_KEY, OTHER_SECRET_KEY, s3_client

pytestmark = pytest.mark.cluster

LISA_ID = "daa27b9d5c4a3f349b34e2b9e8e9545dbb9a48564dfc5590e9b085716fc2c84a"


def error_code(call, *args, **kwargs) -> str:
    with pytest.raises(ClientError) as raised:
        call(*args, **kwargs)
    return raised.value.response["Error"]["Code"]


def test_an_acl_set_through_one_gateway_is_enforced_by_the_other(cluster: LocalCluster) -> None:
    first_url, second_url = cluster.gateway_urls[:2]
    owner = s3_client(first_url)
    other_there = s3_client(second_url, OTHER_ACCESS_KEY, OTHER_SECRET_KEY)
    anonymous_there = boto3.client(
        "s3",
        endpoint_url=second_url,
        region_name="us-east-1",
        config=Config(
            signature_version=UNSIGNED, s3={"addressing_style": "path"}, retries={"max_attempts": 1}
        ),
    )
    bucket = f"cl-acl-{uuid.uuid4().hex[:8]}"
    owner.create_bucket(Bucket=bucket)
    try:
        owner.put_object(Bucket=bucket, Key="doc", Body=b"shared")
        assert error_code(anonymous_there.get_object, Bucket=bucket, Key="doc") == "AccessDenied"
        assert error_code(other_there.list_objects_v2, Bucket=bucket) == "AccessDenied"

        owner.put_object_acl(Bucket=bucket, Key="doc", ACL="public-read")
        owner.put_bucket_acl(Bucket=bucket, GrantRead=f"id={LISA_ID}")
        assert anonymous_there.get_object(Bucket=bucket, Key="doc")["Body"].read() == b"shared"
        assert [item["Key"] for item in other_there.list_objects_v2(Bucket=bucket)["Contents"]] == ["doc"]
        grants = s3_client(second_url).get_object_acl(Bucket=bucket, Key="doc")["Grants"]
        assert {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"} in [
            grant["Grantee"] for grant in grants
        ]

        owner.put_public_access_block(
            Bucket=bucket, PublicAccessBlockConfiguration={"IgnorePublicAcls": True}
        )
        assert error_code(anonymous_there.get_object, Bucket=bucket, Key="doc") == "AccessDenied"
        owner.delete_public_access_block(Bucket=bucket)
        owner.put_object_acl(Bucket=bucket, Key="doc", ACL="private")
        assert error_code(anonymous_there.get_object, Bucket=bucket, Key="doc") == "AccessDenied"
    finally:
        owner.delete_object(Bucket=bucket, Key="doc")
        owner.delete_bucket(Bucket=bucket)
