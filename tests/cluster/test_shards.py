"""Several metadata shards: buckets spread over them, a shard added to a running cluster takes the
next buckets, and every S3 call finds its bucket's shard."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest

from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster

pytestmark = pytest.mark.cluster


def s3_client(url: str) -> boto3.client:
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="accessKey1",
        aws_secret_access_key="verySecretKey1",
        region_name="us-east-1",
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    # One replica per shard keeps this module light; replication is exercised elsewhere.
    spec = ClusterSpec(gateway_base_port=None, shards=2, replicas=1, datanodes=1, gc_interval_s=3600.0)
    with LocalCluster(tmp_path_factory.mktemp("shards"), spec) as running:
        yield running


def test_buckets_spread_over_shards_and_a_new_shard_takes_the_next(cluster: LocalCluster) -> None:
    s3 = s3_client(cluster.gateway_urls[0])
    other = s3_client(cluster.gateway_urls[1])
    for name in ("alpha", "bravo"):
        s3.create_bucket(Bucket=name)
    assert {cluster.bucket_shard("alpha"), cluster.bucket_shard("bravo")} == {"s1", "s2"}

    added = cluster.add_shard(replicas=1)
    assert added == "s3"
    s3.create_bucket(Bucket="charlie")
    assert cluster.bucket_shard("charlie") == "s3"

    for name in ("alpha", "bravo", "charlie"):
        s3.put_object(Bucket=name, Key="k", Body=name.encode())
        assert other.get_object(Bucket=name, Key="k")["Body"].read() == name.encode()
        assert [item["Key"] for item in other.list_objects_v2(Bucket=name)["Contents"]] == ["k"]
    listed = [bucket["Name"] for bucket in other.list_buckets()["Buckets"]]
    assert listed == ["alpha", "bravo", "charlie"]

    # Creating it again (us-east-1 answers its owner 200) neither moves nor duplicates it.
    other.create_bucket(Bucket="charlie")
    assert cluster.bucket_shard("charlie") == "s3"
    assert [bucket["Name"] for bucket in s3.list_buckets()["Buckets"]] == ["alpha", "bravo", "charlie"]
    for name in ("alpha", "bravo", "charlie"):
        s3.delete_object(Bucket=name, Key="k")
        s3.delete_bucket(Bucket=name)
    assert other.list_buckets()["Buckets"] == []
    assert cluster.bucket_shard("charlie") is None
