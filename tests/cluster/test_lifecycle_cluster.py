"""Lifecycle in a cluster: the shard leader's worker applies a bucket's rules, through the replicated
metadata, and the followers run none."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def lifecycle_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    spec = ClusterSpec(
        gateway_base_port=None,
        gc_interval_s=3600.0,
        metanode_args=["--lifecycle-interval", "0.3", "--lifecycle-day-seconds", "2"],
        extra_env={
            "STRATA_LIFECYCLE_DAY_SECONDS": "2"
        },  # the gateways' x-amz-expiration counts the same days
    )
    with LocalCluster(tmp_path_factory.mktemp("lifecycle"), spec) as running:
        yield running


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.2)


def applied_by(cluster: LocalCluster) -> set[str]:
    """The metanodes whose log shows a lifecycle tick that changed something."""
    return {
        record.name
        for record in cluster.processes("metanode")
        if any("lifecycle: " in line for line in Path(record.log).open(errors="replace"))
    }


def test_the_shard_leader_expires_objects_versions_and_uploads(lifecycle_cluster: LocalCluster) -> None:
    first, second = lifecycle_cluster.gateway_urls[:2]
    s3, other_gateway = s3_client(first), s3_client(second)
    s3.create_bucket(Bucket="lc-plain")
    s3.create_bucket(Bucket="lc-versioned")
    s3.put_bucket_versioning(Bucket="lc-versioned", VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket="lc-plain", Key="keep/a", Body=b"kept")
    upload = s3.create_multipart_upload(Bucket="lc-plain", Key="tmp/upload")["UploadId"]
    for body in (b"one", b"two"):
        s3.put_object(Bucket="lc-versioned", Key="doc", Body=body)
    everything = {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"}, "Expiration": {"Days": 1},
                  "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}}  # fmt: skip
    versions_rule = {"ID": "all", "Status": "Enabled", "Filter": {}, "Expiration": {"Days": 1},
                     "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}  # fmt: skip
    s3.put_bucket_lifecycle_configuration(Bucket="lc-plain", LifecycleConfiguration={"Rules": [everything]})
    s3.put_bucket_lifecycle_configuration(
        Bucket="lc-versioned", LifecycleConfiguration={"Rules": [versions_rule]}
    )
    written = other_gateway.put_object(Bucket="lc-plain", Key="tmp/a", Body=b"expires")
    assert 'rule-id="tmp"' in written["Expiration"]

    def plain_done() -> bool:
        keys = {item["Key"] for item in other_gateway.list_objects_v2(Bucket="lc-plain").get("Contents", [])}
        uploads = other_gateway.list_multipart_uploads(Bucket="lc-plain").get("Uploads", [])
        return keys == {"keep/a"} and not uploads

    def versioned_done() -> bool:
        listing = other_gateway.list_object_versions(Bucket="lc-versioned")
        return not listing.get("Versions") and not listing.get("DeleteMarkers")

    wait_until(plain_done, "tmp/a expired and tmp/upload was aborted")
    wait_until(versioned_done, "every version and the delete marker of doc are gone")
    assert upload not in {
        u["UploadId"] for u in s3.list_multipart_uploads(Bucket="lc-plain").get("Uploads", [])
    }
    leader = lifecycle_cluster.shard_leader()
    assert leader is not None
    assert applied_by(lifecycle_cluster) == {leader}
