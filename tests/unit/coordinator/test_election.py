"""LeaderElection: one leader per key, growing terms, loss detected."""

from __future__ import annotations

import asyncio

from coordinator.election import LeaderElection
from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from strata.testing.etcd import EtcdProcess


async def test_second_candidate_leads_after_the_first_resigns(
    etcd: EtcdProcess, client: EtcdClient, cluster: str
) -> None:
    key = Keyspace(cluster).coordinator_leader
    other = await EtcdClient.connect(etcd.endpoint)
    first = LeaderElection(client, key, "coord-1", ttl_s=2)
    second = LeaderElection(other, key, "coord-2", ttl_s=2)
    try:
        first_term = await first.campaign()
        assert first.is_leader
        waiting = asyncio.create_task(second.campaign())
        await asyncio.sleep(0.3)
        assert not waiting.done()
        current = await second.leader()
        assert current is not None and current.value == b"coord-1"

        await first.resign()
        assert not first.is_leader
        second_term = await asyncio.wait_for(waiting, 10)
        assert second_term > first_term
        assert second.is_leader
        current = await first.leader()
        assert current is not None and current.value == b"coord-2"
    finally:
        await first.resign()
        await second.resign()
        await other.close()


async def test_leadership_is_reported_lost_when_the_lease_goes(client: EtcdClient, cluster: str) -> None:
    election = LeaderElection(client, Keyspace(cluster).coordinator_leader, "coord-1", ttl_s=2)
    try:
        await election.campaign()
        await client.revoke_lease(election._lease_id)  # what etcd does when the lease expires
        await asyncio.wait_for(election.lost.wait(), 10)
        assert not election.is_leader
        assert await election.leader() is None
    finally:
        await election.resign()


async def test_leadership_is_kept_past_the_ttl_while_alive(client: EtcdClient, cluster: str) -> None:
    election = LeaderElection(client, Keyspace(cluster).shard_leader("s1"), "meta-1", ttl_s=2)
    try:
        term = await election.campaign()
        await asyncio.sleep(5.0)  # past the TTL: only the keepalive can keep the leadership
        assert election.is_leader
        current = await election.leader()
        assert current is not None and current.create_revision == term
    finally:
        await election.resign()
    assert await client.get(Keyspace(cluster).shard_leader("s1")) is None
