"""Probe tests: kill -9 real processes under load; nothing that was acknowledged is lost."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster


class Writer:
    """PUTs objects in a loop through one gateway, remembering every acknowledged one."""

    def __init__(self, url: str, bucket: str) -> None:
        self.s3 = s3_client(url, connect_timeout=5, read_timeout=30)
        self.bucket = bucket
        self.acknowledged: dict[str, str] = {}
        self.failures = 0
        self.error_codes: set[str] = set()
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        index = 0
        while not self.stop.is_set():
            index += 1
            # Alternate inline-sized and blob-sized bodies, so both write paths are exercised.
            body = os.urandom(2_000 if index % 2 else 300_000)
            key = f"obj-{index:06d}"
            try:
                self.s3.put_object(Bucket=self.bucket, Key=key, Body=body)
            except ClientError as error:
                self.failures += 1
                self.error_codes.add(error.response["Error"]["Code"])
                time.sleep(0.05)
                continue
            except BotoCoreError:
                self.failures += 1
                time.sleep(0.05)
                continue
            self.acknowledged[key] = hashlib.md5(body).hexdigest()

    def wait_for(self, count: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while len(self.acknowledged) < count:
            assert time.monotonic() < deadline, f"only {len(self.acknowledged)} writes acknowledged"
            time.sleep(0.05)

    def __enter__(self) -> Writer:
        self.thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop.set()
        self.thread.join(60)


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[LocalCluster]:
    with LocalCluster(tmp_path / "cluster", ClusterSpec(gateway_base_port=None)) as running:
        yield running


def assert_all_readable(url: str, bucket: str, acknowledged: dict[str, str]) -> None:
    reader = s3_client(url)
    for key, digest in acknowledged.items():
        body = reader.get_object(Bucket=bucket, Key=key)["Body"].read()
        assert hashlib.md5(body).hexdigest() == digest, key


@pytest.mark.timeout(240)
# While the victim is down the gateways answer 503 ServiceUnavailable; clients retry.
@pytest.mark.allow_server_errors(503)
@pytest.mark.parametrize("victim", ["the shard leader", "datanode-1"])
def test_kill_9_under_load_loses_no_acknowledged_write(cluster: LocalCluster, victim: str) -> None:
    url = cluster.gateway_urls[0]
    s3_client(url).create_bucket(Bucket="probe")
    with Writer(url, "probe") as writer:
        writer.wait_for(20)
        if victim == "the shard leader":
            leader = cluster.shard_leader()
            assert leader is not None, "writes are acknowledged, so the shard has a leader"
            victim = leader
        cluster.restart(victim)  # SIGKILL, then the same process again on the same data
        before = len(writer.acknowledged)
        writer.wait_for(before + 20)  # the cluster serves writes again
    print(
        f"{victim}: {len(writer.acknowledged)} writes acknowledged, {writer.failures} refused while it was down"
    )
    assert_all_readable(cluster.gateway_urls[1], "probe", writer.acknowledged)
    listed = {
        item["Key"]
        for page in s3_client(url).get_paginator("list_objects_v2").paginate(Bucket="probe")
        for item in page.get("Contents", [])
    }
    assert set(writer.acknowledged) <= listed
