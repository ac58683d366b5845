"""A follower whose missing entries were trimmed from the leader's log comes back through a
snapshot: with a short ``--log-retention``, a follower is stopped while the shard writes far more
entries than the log keeps; once started again it installs the leader's snapshot, rejoins the ISR,
and, made leader, serves every object written while it was away."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster

pytestmark = [pytest.mark.cluster, pytest.mark.allow_server_errors(503)]

RETENTION = 20
INSTALLING = "snapshot at"  # the follower's log line: "installing <leader>'s snapshot at N (log was at M)"


def s3_client(url: str) -> boto3.client:
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="accessKey1",
        aws_secret_access_key="verySecretKey1",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 8, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )


def wait_until(predicate: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    spec = ClusterSpec(
        gateway_base_port=None, gc_interval_s=3600.0, metanode_args=["--log-retention", str(RETENTION)]
    )
    with LocalCluster(tmp_path / "snapshot", spec) as running:
        yield running


def installs_logged(cluster: LocalCluster, name: str) -> int:
    log_path = next(record.log for record in cluster.processes("metanode") if record.name == name)
    return sum("installing" in line and INSTALLING in line for line in Path(log_path).open(errors="replace"))


def test_a_follower_behind_the_trimmed_log_installs_a_snapshot_and_serves_the_data(
    cluster: LocalCluster,
) -> None:
    s3 = s3_client(cluster.gateway_urls[0])
    s3.create_bucket(Bucket="catch-up")
    s3.put_object(Bucket="catch-up", Key="before", Body=b"written with every replica up")
    leader = cluster.shard_leader()
    assert leader is not None
    follower = next(p.name for p in cluster.processes("metanode") if p.name != leader)
    other = next(p.name for p in cluster.processes("metanode") if p.name not in (leader, follower))
    installs_before = installs_logged(cluster, follower)

    cluster.stop_process(follower)
    progress = cluster.shard_progress()
    assert progress is not None
    stopped_at = progress.followers[follower].match_index
    written: dict[str, bytes] = {}

    def write_until(done: Callable[[], bool], what: str) -> None:
        """Writes objects (the leader drops a silent replica from the ISR only when it commits)."""
        deadline = time.monotonic() + 120
        while not done():
            assert time.monotonic() < deadline, what
            for _ in range(5):
                key = f"while-away-{len(written)}"
                written[key] = key.encode() * 3
                s3.put_object(Bucket="catch-up", Key=key, Body=written[key])

    def trimmed_past_the_follower() -> bool:
        progress = cluster.shard_progress()
        # The progress read above may be a second old: a margin over the follower's match index.
        return progress is not None and progress.log_base > stopped_at + 3 * RETENTION

    # The leader's log no longer holds anything the stopped follower lacks.
    write_until(trimmed_past_the_follower, "the leader never trimmed its log")
    assert follower not in cluster.shard_isr()

    cluster.start_process(follower)
    wait_until(lambda: follower in cluster.shard_isr(), 60, f"{follower} did not rejoin the ISR")
    assert installs_logged(cluster, follower) > installs_before, f"{follower} caught up without a snapshot"

    # Make the follower the leader: the other follower leaves the ISR (frozen), then the leader dies,
    # so the follower is the only in-sync replica left to win the election.
    cluster.kill(other, signal.SIGSTOP)
    try:
        write_until(lambda: other not in cluster.shard_isr(), f"{other} stayed in the ISR while frozen")
        cluster.stop_process(leader, signal.SIGKILL)
        wait_until(lambda: cluster.shard_leader() == follower, 30, f"{follower} did not take over")
    finally:
        cluster.kill(other, signal.SIGCONT)
    wait_until(lambda: other in cluster.shard_isr(), 60, f"{other} did not rejoin {follower}'s ISR")

    reader = s3_client(cluster.gateway_urls[1])
    assert (
        reader.get_object(Bucket="catch-up", Key="before")["Body"].read() == b"written with every replica up"
    )
    for key, body in written.items():
        assert reader.get_object(Bucket="catch-up", Key=key)["Body"].read() == body, key
    listed = {
        item["Key"]
        for page in reader.get_paginator("list_objects_v2").paginate(Bucket="catch-up")
        for item in page.get("Contents", [])
    }
    assert listed == {"before", *written}
    cluster.start_process(leader)
