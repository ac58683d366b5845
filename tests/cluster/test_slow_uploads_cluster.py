"""A real cluster with a 2 s intent TTL: slow uploads survive GC; a killed writer's intent still expires."""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Iterator

import pytest

from metanode.client import MetadataClient
from protos.metadata_pb2 import LISTING_DELIMITER_VERSIONS, ListObjectsRequest, RunGcRequest
from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from tests.cluster.blobs import datanode_blob_ids
from tests.integration.conftest import s3_client
from tests.integration.trickle import trickle

pytestmark = pytest.mark.cluster

TTL_S = 2.0
BODY = os.urandom(400_000)


class GcDriver:
    """Runs a real GC pass (RunGc) on the metanode every quarter second and counts expired intents."""

    def __init__(self, metanode_address: str) -> None:
        self.address = metanode_address
        self.intents_expired = 0
        self.passes = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def loop() -> None:
            client = MetadataClient(self.address)
            try:
                while not self._stop.is_set():
                    response = await client.run_gc(RunGcRequest())
                    self.intents_expired += response.intents_expired
                    self.passes += 1
                    await asyncio.sleep(0.25)
            finally:
                await client.close()

        asyncio.run(loop())

    def __enter__(self) -> GcDriver:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join(30)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    spec = ClusterSpec(gateway_base_port=None, gc_interval_s=3600.0, intent_ttl_s=TTL_S, gc_grace_s=0.0)
    with LocalCluster(tmp_path_factory.mktemp("slow-cluster"), spec) as running:
        yield running


async def _referenced_and_stored(cluster: LocalCluster, bucket: str) -> tuple[set[str], set[str]]:
    metanode = MetadataClient(cluster.processes("metanode")[0].address)
    try:
        listing = await metanode.list_objects(
            ListObjectsRequest(bucket=bucket, listing_type=LISTING_DELIMITER_VERSIONS, max_keys=1000)
        )
        referenced = {blob.blob_id for entry in listing.entries for blob in entry.object.blobs}
    finally:
        await metanode.close()
    stored = await datanode_blob_ids(cluster)
    return referenced, stored


@pytest.mark.timeout(120)
def test_upload_slower_than_the_intent_ttl_round_trips_while_gc_runs(cluster: LocalCluster) -> None:
    first, second = cluster.gateway_urls
    s3 = s3_client(first)
    s3.create_bucket(Bucket="slow")
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "slow", "Key": "trickled"})
    with GcDriver(cluster.processes("metanode")[0].address) as gc:
        reply = trickle(url, BODY, duration_s=4 * TTL_S, pieces=32)
        assert reply is not None and reply.status == 200, reply
        assert gc.passes > 4 and gc.intents_expired == 0
    assert s3_client(second).get_object(Bucket="slow", Key="trickled")["Body"].read() == BODY


@pytest.mark.timeout(120)
def test_gateway_killed_mid_stream_has_its_intent_expire_and_leaves_no_blob(cluster: LocalCluster) -> None:
    survivor = s3_client(cluster.gateway_urls[0])
    survivor.create_bucket(Bucket="dying")
    victim = s3_client(cluster.gateway_urls[1])
    url = victim.generate_presigned_url("put_object", Params={"Bucket": "dying", "Key": "half"})
    with GcDriver(cluster.processes("metanode")[0].address) as gc:
        streamed_past_two_ttls = threading.Event()  # 10 of 24 pieces over 6 TTLs: 2.5 TTLs
        uploader = threading.Thread(
            target=lambda: trickle(
                url, BODY, duration_s=6 * TTL_S, pieces=24, progress=(10, streamed_past_two_ttls)
            ),
            daemon=True,
        )
        uploader.start()
        assert streamed_past_two_ttls.wait(60)
        # The intent stays alive (renewed) while the writer streams...
        assert gc.intents_expired == 0
        cluster.restart("gateway-2")  # SIGKILL, then the same gateway again
        uploader.join(60)
        # ...and expires once nobody renews it.
        deadline = time.monotonic() + 30
        while gc.intents_expired == 0:
            assert time.monotonic() < deadline, "the dead writer's intent never expired"
            time.sleep(0.1)
    assert survivor.list_objects_v2(Bucket="dying").get("KeyCount") == 0
    referenced, stored = asyncio.run(_referenced_and_stored(cluster, "dying"))
    slow_referenced, _ = asyncio.run(_referenced_and_stored(cluster, "slow"))
    assert referenced == set()
    assert stored <= slow_referenced
