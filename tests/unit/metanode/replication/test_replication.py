"""Replicated shards: leaders elected through etcd, entries committed by the in-sync replicas,
fencing, followers that fall behind or diverge, snapshots. Real etcd, RocksDB and gRPC."""

from __future__ import annotations

import asyncio
import json

import pytest

from metanode import keys
from metanode.replication import log as replog
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    AppendRequest,
    BucketInfo,
    BucketName,
    CreateBucketRequest,
    GetObjectRequest,
    ObjectMD,
    PutObjectRequest,
)
from tests.unit.metanode.replication.harness import Shard


async def _put(shard: Shard, leader: str, key: str, etag: str) -> None:
    client = shard.client(leader)
    try:
        await client.put_object(PutObjectRequest(bucket="bkt", object=ObjectMD(key=key, etag=etag, size=1)))
    finally:
        await client.close()


async def _get(shard: Shard, node_id: str, key: str) -> ObjectMD:
    client = shard.client(node_id)
    try:
        return await client.get_object(GetObjectRequest(bucket="bkt", key=key))
    finally:
        await client.close()


async def _create_bucket(shard: Shard, leader: str) -> None:
    client = shard.client(leader)
    try:
        await client.create_bucket(CreateBucketRequest(bucket=BucketInfo(name="bkt", owner_id="alice")))
    finally:
        await client.close()


def _stored_etag(shard: Shard, node_id: str, key: str) -> str | None:
    """What a replica's own RocksDB holds for ``key`` of bucket bkt (read directly, off the RPCs)."""
    kv = shard.node(node_id).kv
    bucket = keys.decode_bucket(kv.get(keys.bucket_key("bkt")))  # type: ignore[arg-type]
    raw = kv.get(keys.master_key(bucket.uid, key))
    return None if raw is None else keys.decode_object(raw).etag


async def test_one_leader_serves_and_followers_refuse_with_not_leader(shard: Shard) -> None:
    leader = await shard.wait_for_leader()
    await _create_bucket(shard, leader)
    for follower in (node for node in shard.members if node != leader):
        with pytest.raises(StrataError) as refused:
            await _get(shard, follower, "k")
        assert refused.value.reason == ErrorReason.NOT_LEADER
    await shard.wait_for_isr(set(shard.members))
    isr = json.loads(await shard.etcd.get(shard.keys.shard_isr("s1")) or b"{}")
    term = (await shard.etcd.leader(shard.keys.shard_leader("s1"))).create_revision  # type: ignore[union-attr]
    assert isr["term"] == term


async def test_an_acknowledged_write_is_on_every_in_sync_replica(shard: Shard) -> None:
    leader = await shard.wait_for_leader()
    await _create_bucket(shard, leader)
    await shard.wait_for_isr(set(shard.members))
    await asyncio.gather(*(_put(shard, leader, f"key-{n}", f"etag-{n}") for n in range(50)))
    in_sync = await shard.isr()
    for node_id in in_sync:
        for n in range(50):
            assert _stored_etag(shard, node_id, f"key-{n}") == f"etag-{n}", node_id
    # Group commit survives: far fewer batches than entries.
    writer = shard.node(leader).core.writer  # type: ignore[union-attr]
    assert writer.entries_written > writer.batches_written


async def test_a_new_leader_has_every_acknowledged_write(shard: Shard) -> None:
    first = await shard.wait_for_leader()
    await _create_bucket(shard, first)
    await shard.wait_for_isr(set(shard.members))
    for n in range(20):
        await _put(shard, first, f"key-{n}", f"etag-{n}")
    await shard.stop(first)
    second = await asyncio.wait_for(shard.wait_for_leader(other_than=first), 20)
    for n in range(20):
        assert (await _get(shard, second, f"key-{n}")).etag == f"etag-{n}"
    await _put(shard, second, "after", "etag-after")
    # The old leader returns as a follower and catches up.
    await shard.start(first)
    async with asyncio.timeout(20):
        while True:
            if _stored_etag(shard, first, "after") == "etag-after":
                break
            await asyncio.sleep(0.05)


async def test_an_entry_from_an_older_term_is_refused(shard: Shard) -> None:
    leader = await shard.wait_for_leader()
    await _create_bucket(shard, leader)
    follower = next(node for node in shard.members if node != leader)
    term = shard.node(leader).leader.term  # type: ignore[union-attr]
    with pytest.raises(StrataError) as refused:
        await shard.node(follower).append(AppendRequest(shard="s1", term=term - 1, leader_id="old"))
    assert refused.value.reason == ErrorReason.STALE_EPOCH


async def test_a_follower_that_stops_leaves_the_isr_and_catches_up_when_back(shard: Shard) -> None:
    leader = await shard.wait_for_leader()
    await _create_bucket(shard, leader)
    await shard.wait_for_isr(set(shard.members))
    follower = next(node for node in shard.members if node != leader)
    await shard.stop(follower)
    # Writes go on with the two others once the stopped one has been dropped from the ISR.
    for n in range(10):
        await _put(shard, leader, f"key-{n}", f"etag-{n}")
    assert follower not in await shard.isr()
    await shard.start(follower)
    await shard.wait_for_isr(set(shard.members))
    for n in range(10):
        assert _stored_etag(shard, follower, f"key-{n}") == f"etag-{n}"


@pytest.mark.allow_server_errors(503)
async def test_a_minority_commits_nothing(shard: Shard) -> None:
    leader = await shard.wait_for_leader()
    await _create_bucket(shard, leader)
    await shard.wait_for_isr(set(shard.members))
    followers = [node for node in shard.members if node != leader]
    await shard.stop(followers[0])
    await _put(shard, leader, "with-two", "etag")  # two of three still commit
    await shard.stop(followers[1])
    with pytest.raises(StrataError) as refused:
        await _put(shard, leader, "alone", "etag")
    assert refused.value.reason in (ErrorReason.OUTCOME_UNKNOWN, ErrorReason.NOT_LEADER)
    assert len(await shard.isr()) >= 2  # the ISR never shrinks below a majority


async def test_a_follower_behind_the_trimmed_log_is_sent_a_snapshot(shard: Shard) -> None:
    leader = await shard.wait_for_leader()
    await _create_bucket(shard, leader)
    await shard.wait_for_isr(set(shard.members))
    follower = next(node for node in shard.members if node != leader)
    await shard.stop(follower)
    for n in range(60):
        await _put(shard, leader, f"key-{n}", f"etag-{n}")
    dropped = await shard.node(leader).trim(5)
    assert dropped > 0
    await shard.start(follower)
    await shard.wait_for_isr(set(shard.members))
    for n in range(60):
        assert _stored_etag(shard, follower, f"key-{n}") == f"etag-{n}"
    assert replog.base(shard.node(follower).kv).index > 0  # it has the leader's trimmed log: a snapshot


async def test_the_bucket_is_readable_from_whichever_replica_leads(shard: Shard) -> None:
    leader = await shard.wait_for_leader()
    await _create_bucket(shard, leader)
    await shard.wait_for_isr(set(shard.members))
    await shard.stop(leader)
    second = await asyncio.wait_for(shard.wait_for_leader(other_than=leader), 20)
    client = shard.client(second)
    try:
        assert (await client.get_bucket(BucketName(name="bkt"))).owner_id == "alice"
    finally:
        await client.close()


async def test_a_commit_wait_cancelled_twice_while_the_lock_is_busy_leaves_the_lock_free(
    shard: Shard,
) -> None:
    """A call cancelled (its client gone) and cancelled again while its commit wait is taking the
    leader's lock back must end cancelled and leave the lock free; else the next wait raises
    ``RuntimeError: Lock is not acquired`` or every later commit wait hangs on a lock nobody holds."""
    leader_id = await shard.wait_for_leader()
    await _create_bucket(shard, leader_id)
    leader = shard.node(leader_id).leader
    assert leader is not None
    changed = leader._changed
    waiter = asyncio.ensure_future(leader.wait_committed(leader.commit_index + 1_000_000, 30))
    for _ in range(5):  # the waiter parks in Condition.wait(), which releases the lock
        await asyncio.sleep(0)
    assert changed._waiters and not changed.locked()
    await changed.acquire()  # someone else holds the lock when the waiter wants it back
    waiter.cancel()
    for _ in range(5):  # the waiter now queues for the lock
        await asyncio.sleep(0)
    # The second cancellation reaches the call before the freed lock reaches its commit wait.
    waiter.cancel()
    changed.release()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert not changed.locked()
    await _put(shard, leader_id, "after", "etag")  # commits still work on this leader
