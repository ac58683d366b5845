"""The shard map read from the documented ``shards/<id>/...`` keys, against a real etcd."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable

import pytest

from coordinator.election import LeaderElection
from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from coordinator.shards import ShardLeader, ShardWatcher, read_shards

PROGRESS = {
    "term": 0,
    "leader": "m1",
    "commit_index": 120,
    "followers": {
        "m2": {"match_index": 120, "lag": 0, "in_isr": True},
        "m3": {"match_index": 80, "lag": 40, "in_isr": False},
    },
    "updated_ms": 1700000000000,
}


async def put_shard(client: EtcdClient, cluster: str, shard: str, isr: list[str]) -> None:
    space = Keyspace(cluster)
    members = {"replicas": 3, "members": ["m1", "m2", "m3"]}
    await client.put(space.shard_members(shard), json.dumps(members))
    await client.put(space.shard_isr(shard), json.dumps({"term": 7, "members": isr}))


async def test_watcher_follows_members_isr_and_the_elected_leader_with_its_term(
    client: EtcdClient, cluster: str
) -> None:
    space = Keyspace(cluster)
    async with ShardWatcher(client, cluster) as watcher:
        assert watcher.shards() == [] and watcher.leader("s1") is None
        changes: list[str] = []
        watcher.add_listener(lambda: changes.append("changed"))
        await put_shard(client, cluster, "s1", ["m1", "m2"])
        election = LeaderElection(
            client, space.shard_leader("s1"), json.dumps({"node_id": "m1", "address": "h:1"})
        )
        term = await election.campaign()
        try:
            leader = await watcher.wait_for_leader("s1", timeout_s=10)
            assert leader == ShardLeader("m1", "h:1", term)
            assert watcher.shards() == ["s1"]
            assert watcher.members("s1") == ["m1", "m2", "m3"] and watcher.isr("s1") == ["m1", "m2"]
            state = watcher.state("s1")
            assert state is not None and state.problems() == ["2 of 3 replicas in sync"]
            seen = len(changes)
            # Progress is rewritten every second: it updates the state but is not a change to tell.
            await client.put(space.shard_progress("s1"), json.dumps({**PROGRESS, "term": term}))
            await client.put(space.shard_isr("s1"), json.dumps({"term": term, "members": ["m1", "m2", "m3"]}))
            await until(watcher, lambda: watcher.isr("s1") == ["m1", "m2", "m3"])
            assert len(changes) == seen + 1
            state = watcher.state("s1")
            assert state is not None and state.progress is not None and state.problems() == []
            assert state.progress.followers["m3"].lag == 40
        finally:
            await election.resign()
        await until(watcher, lambda: watcher.leader("s1") is None)
        state = watcher.state("s1")
        assert state is not None and state.problems() == ["no leader"]


async def test_wait_for_leader_waits_for_a_newer_term_and_times_out_without_one(
    client: EtcdClient, cluster: str
) -> None:
    key = Keyspace(cluster).shard_leader("s1")
    first = LeaderElection(client, key, json.dumps({"node_id": "m1", "address": "h:1"}))
    old_term = await first.campaign()
    async with ShardWatcher(client, cluster) as watcher:
        assert (await watcher.wait_for_leader("s1", timeout_s=10)).term == old_term
        with pytest.raises(TimeoutError):
            await watcher.wait_for_leader("s1", timeout_s=0.2, newer_than=old_term)
        waiting = asyncio.create_task(watcher.wait_for_leader("s1", timeout_s=10, newer_than=old_term))
        await first.resign()
        second = LeaderElection(client, key, json.dumps({"node_id": "m2", "address": "h:2"}))
        new_term = await second.campaign()
        try:
            assert await waiting == ShardLeader("m2", "h:2", new_term) and new_term > old_term
        finally:
            await second.resign()


async def test_values_that_break_the_documented_json_count_as_absent(
    client: EtcdClient, cluster: str
) -> None:
    space = Keyspace(cluster)
    await client.put(space.shard_members("s1"), json.dumps({"replicas": 3, "members": ["m1", "m2", "m3"]}))
    await client.put(space.shard_isr("s1"), b"not json")
    await client.put(space.shard_progress("s1"), json.dumps({"term": "seven"}))
    await client.put(space.shards_prefix + "s1/future-key", b"{}")
    states = await read_shards(client, cluster)
    assert list(states) == ["s1"]
    state = states["s1"]
    assert state.replicas == 3 and state.isr is None and state.progress is None and state.leader is None
    async with ShardWatcher(client, cluster) as watcher:
        assert watcher.state("s1") == state and watcher.isr("s1") == []


async def until(watcher: ShardWatcher, condition: Callable[[], bool]) -> None:
    """Returns once ``condition()`` holds, re-checking on every change the watcher announces."""
    changed = asyncio.Event()
    watcher.add_listener(changed.set)
    async with asyncio.timeout(10):
        while not condition():
            await changed.wait()
            changed.clear()
