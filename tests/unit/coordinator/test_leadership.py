"""lead_while_elected: the workers run on the one leading candidate only, and move when it loses."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from coordinator.election import LeaderElection
from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from coordinator.leadership import lead_while_elected
from strata.testing.etcd import EtcdProcess


class CountingWorker:
    def __init__(self) -> None:
        self.running = False
        self.starts = 0

    def start(self) -> None:
        assert not self.running
        self.running = True
        self.starts += 1

    async def stop(self) -> None:
        self.running = False


async def eventually(condition: Callable[[], bool]) -> None:
    """Waits (bounded: 10 s) until ``condition()`` holds."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.02)
    assert condition()


async def test_workers_run_on_the_leader_and_move_to_the_standby_when_it_loses_its_lease(
    etcd: EtcdProcess, client: EtcdClient, cluster: str
) -> None:
    key = Keyspace(cluster).coordinator_leader
    other = await EtcdClient.connect(etcd.endpoint)
    first = LeaderElection(client, key, "coord-1", ttl_s=2)
    second = LeaderElection(other, key, "coord-2", ttl_s=2)
    first_worker, second_worker = CountingWorker(), CountingWorker()
    stopping = asyncio.Event()
    roles: list[tuple[str, bool]] = []

    def recorder(name: str):  # type: ignore[no-untyped-def]
        async def record(leading: bool) -> None:
            roles.append((name, leading))

        return record

    first_loop = asyncio.create_task(lead_while_elected(first, [first_worker], stopping, recorder("coord-1")))
    await eventually(lambda: first_worker.running)
    second_loop = asyncio.create_task(
        lead_while_elected(second, [second_worker], stopping, recorder("coord-2"))
    )
    try:
        await asyncio.sleep(0.3)
        assert not second_worker.running  # standing by

        await client.revoke_lease(first._lease_id)  # what etcd does when the lease expires
        await eventually(lambda: second_worker.running)
        await eventually(lambda: not first_worker.running)
        current = await second.leader()
        assert current is not None and current.value == b"coord-2"
        await eventually(lambda: ("coord-1", False) in roles)
        # The deposed one campaigns again and stands by.
        await asyncio.sleep(0.3)
        assert not first_worker.running and first_worker.starts == 1

        stopping.set()
        await asyncio.wait_for(asyncio.gather(first_loop, second_loop), 10)
        assert not second_worker.running
        assert await first.leader() is None  # resigned on the way out
        assert roles[0] == ("coord-1", True)
        assert sorted(roles[1:]) == [("coord-1", False), ("coord-2", True)]
    finally:
        stopping.set()
        for loop in (first_loop, second_loop):
            loop.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loop
        await other.close()


async def test_stopping_while_standing_by_ends_the_campaign(client: EtcdClient, cluster: str) -> None:
    key = Keyspace(cluster).coordinator_leader
    holder = LeaderElection(client, key, "holder", ttl_s=2)
    await holder.campaign()
    standby = LeaderElection(client, key, "standby", ttl_s=2)
    worker = CountingWorker()
    stopping = asyncio.Event()
    loop = asyncio.create_task(lead_while_elected(standby, [worker], stopping))
    try:
        await asyncio.sleep(0.3)
        stopping.set()
        await asyncio.wait_for(loop, 10)
        assert worker.starts == 0
        current = await holder.leader()
        assert current is not None and current.value == b"holder"
    finally:
        await holder.resign()
