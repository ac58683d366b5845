"""Bucket -> shard assignment: names are unique cluster-wide."""

from __future__ import annotations

import asyncio

from coordinator.buckets import assign_bucket, bucket_shard, list_bucket_shards, release_bucket
from coordinator.etcd import EtcdClient
from strata.testing.etcd import EtcdProcess


async def test_first_assignment_wins_and_later_ones_see_its_shard(client: EtcdClient, cluster: str) -> None:
    assert await bucket_shard(client, cluster, "photos") is None
    assert await assign_bucket(client, cluster, "photos") == (True, "s1")
    assert await assign_bucket(client, cluster, "photos", shard="s2") == (False, "s1")
    assert await bucket_shard(client, cluster, "photos") == "s1"


async def test_concurrent_creators_of_one_name_get_exactly_one_winner(
    etcd: EtcdProcess, client: EtcdClient, cluster: str
) -> None:
    clients = [client] + [await EtcdClient.connect(etcd.endpoint) for _ in range(3)]
    try:
        results = await asyncio.gather(
            *(assign_bucket(c, cluster, "contested", shard=f"s{i}") for i, c in enumerate(clients))
        )
        winners = [shard for created, shard in results if created]
        assert len(winners) == 1
        assert {shard for _, shard in results} == {winners[0]}
    finally:
        for other in clients[1:]:
            await other.close()


async def test_release_frees_the_name_only_for_the_assigned_shard(client: EtcdClient, cluster: str) -> None:
    await assign_bucket(client, cluster, "logs", shard="s3")
    assert await release_bucket(client, cluster, "logs", shard="s1") is False
    assert await bucket_shard(client, cluster, "logs") == "s3"
    assert await release_bucket(client, cluster, "logs", shard="s3") is True
    assert await bucket_shard(client, cluster, "logs") is None
    assert await assign_bucket(client, cluster, "logs", shard="s2") == (True, "s2")
    assert await release_bucket(client, cluster, "logs") is True
    assert await release_bucket(client, cluster, "logs") is False


async def test_list_bucket_shards(client: EtcdClient, cluster: str) -> None:
    await assign_bucket(client, cluster, "a", shard="s1")
    await assign_bucket(client, cluster, "b", shard="s2")
    assert await list_bucket_shards(client, cluster) == {"a": "s1", "b": "s2"}
