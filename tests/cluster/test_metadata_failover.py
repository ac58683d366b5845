"""Metadata failover with real processes: the shard leader killed (SIGKILL) or frozen (SIGSTOP)
under a write load through both gateways. Acknowledged writes are never lost, writes resume on
the new leader, and a frozen leader that wakes up acknowledges nothing."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError

from metanode.client import MetadataClient
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import ObjectMD, PutObjectRequest
from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster

pytestmark = [pytest.mark.cluster, pytest.mark.allow_server_errors(503)]

KILLS = 10 if os.environ.get("STRATA_SLOW") else 2


def s3_client(url: str) -> boto3.client:
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="accessKey1",
        aws_secret_access_key="verySecretKey1",
        region_name="us-east-1",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    spec = ClusterSpec(gateway_base_port=None, gc_interval_s=3600.0)
    with LocalCluster(tmp_path_factory.mktemp("failover"), spec) as running:
        yield running


@dataclass
class WriteLoad:
    """Threads writing unique keys through every gateway, remembering what was acknowledged."""

    urls: list[str]
    bucket: str
    acknowledged: dict[str, bytes] = field(default_factory=dict)
    successes: list[float] = field(default_factory=list)  # completion times
    statuses: dict[int, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, worker: int) -> None:
        s3 = s3_client(self.urls[worker % len(self.urls)])
        n = 0
        while not self.stop.is_set():
            n += 1
            key = f"w{worker}-{n}"
            body = uuid.uuid4().bytes * 8
            try:
                s3.put_object(Bucket=self.bucket, Key=key, Body=body)
            except ClientError as error:
                status = int(error.response["ResponseMetadata"]["HTTPStatusCode"])
                with self.lock:
                    self.statuses[status] = self.statuses.get(status, 0) + 1
                time.sleep(0.05)
                continue
            except (ConnectionError, ReadTimeoutError):
                with self.lock:
                    self.statuses[0] = self.statuses.get(0, 0) + 1
                continue
            with self.lock:
                self.acknowledged[key] = body
                self.successes.append(time.monotonic())
                self.statuses[200] = self.statuses.get(200, 0) + 1

    def acks_after(self, moment: float) -> int:
        with self.lock:
            return sum(1 for done in self.successes if done > moment)


def wait_until(predicate, timeout_s: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def verify(cluster: LocalCluster, load: WriteLoad) -> None:
    s3 = s3_client(cluster.gateway_urls[0])
    for key, body in load.acknowledged.items():
        assert s3.get_object(Bucket=load.bucket, Key=key)["Body"].read() == body, key
    listed: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=load.bucket):
        listed.update(item["Key"] for item in page.get("Contents", []))
    assert set(load.acknowledged) <= listed


def test_acknowledged_writes_survive_killing_the_leader_and_writes_resume(cluster: LocalCluster) -> None:
    s3_client(cluster.gateway_urls[0]).create_bucket(Bucket="failover-kill")
    load = WriteLoad(cluster.gateway_urls, "failover-kill")
    threads = [threading.Thread(target=load.run, args=(n,), daemon=True) for n in range(4)]
    for thread in threads:
        thread.start()
    failovers: list[float] = []
    try:
        wait_until(lambda: load.acks_after(0) >= 30, 60, "no write was acknowledged")
        for _ in range(KILLS):
            leader = cluster.shard_leader()
            assert leader is not None
            killed_at = time.monotonic()
            cluster.kill(leader)
            wait_until(lambda at=killed_at: load.acks_after(at) > 0, 30, "writes did not resume")  # type: ignore[misc]
            failovers.append(min(done for done in load.successes if done > killed_at) - killed_at)
            cluster.start_process(leader)
            wait_until(
                lambda name=leader: name in cluster.shard_isr(), 60, f"{leader} did not rejoin the ISR"
            )  # type: ignore[misc]
    finally:
        load.stop.set()
        for thread in threads:
            thread.join(60)
    print(
        f"\nfailover after kill -9 of the leader ({len(failovers)} kills): "
        f"median {statistics.median(failovers):.2f}s, max {max(failovers):.2f}s; "
        f"{len(load.acknowledged)} writes acknowledged; outcomes {sorted(load.statuses.items())}"
    )
    assert set(load.statuses) <= {200, 503}, load.statuses  # never a 500
    verify(cluster, load)


def test_a_frozen_leader_acknowledges_nothing_once_it_wakes(cluster: LocalCluster) -> None:
    s3_client(cluster.gateway_urls[0]).create_bucket(Bucket="failover-stop")
    load = WriteLoad(cluster.gateway_urls, "failover-stop")
    threads = [threading.Thread(target=load.run, args=(n,), daemon=True) for n in range(4)]
    for thread in threads:
        thread.start()
    frozen = ""
    try:
        wait_until(lambda: load.acks_after(0) >= 30, 60, "no write was acknowledged")
        frozen = cluster.shard_leader() or ""
        assert frozen
        stopped_at = time.monotonic()
        cluster.kill(frozen, signal.SIGSTOP)
        # Past its lease: another replica leads and writes are acknowledged again.
        wait_until(lambda: cluster.shard_leader() not in (None, frozen), 30, "no new leader")
        wait_until(lambda: load.acks_after(stopped_at) > 0, 30, "writes did not resume")
        cluster.kill(frozen, signal.SIGCONT)
        address = next(p.address for p in cluster.processes("metanode") if p.name == frozen)
        woken = asyncio.run(direct_put(address))
        assert woken in (ErrorReason.NOT_LEADER, ErrorReason.OUTCOME_UNKNOWN), ErrorReason.Name(woken)
        wait_until(lambda: frozen in cluster.shard_isr(), 60, f"{frozen} did not rejoin the ISR")
        time.sleep(0.5)  # a little more load with the woken replica back
    finally:
        if frozen:
            cluster.kill(frozen, signal.SIGCONT)
        load.stop.set()
        for thread in threads:
            thread.join(60)
    assert set(load.statuses) <= {200, 503}, load.statuses
    verify(cluster, load)


async def direct_put(address: str) -> int:
    """Asks the woken ex-leader itself to commit a write; returns the reason it refused."""
    client = MetadataClient(address, timeout_s=10)
    try:
        await client.put_object(
            PutObjectRequest(bucket="failover-stop", object=ObjectMD(key="from-the-past", etag="x"))
        )
    except StrataError as error:
        return int(error.reason)
    finally:
        await client.close()
    raise AssertionError("the woken ex-leader acknowledged a write")
