"""EtcdClient against a real etcd: keys, transactions, leases, watches, elections."""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import Awaitable, Callable

import pytest

import coordinator.etcd
from coordinator.etcd import (
    EtcdClient,
    WatchCompactedError,
    WatchEvent,
    WatchEventType,
    channel_target,
    parse_endpoints,
)
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from strata.testing.etcd import EtcdProcess, free_port


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while True:
            if await check():
                return
            await asyncio.sleep(0.05)


async def collect(client: EtcdClient, prefix: str, count: int, **kwargs: int) -> list[WatchEvent]:
    events: list[WatchEvent] = []
    async for event in client.watch_prefix(prefix, **kwargs):
        events.append(event)
        if len(events) == count:
            break
    return events


def test_parse_endpoints_accepts_lists_urls_and_commas() -> None:
    assert parse_endpoints("127.0.0.1:1, http://127.0.0.1:2/") == ["127.0.0.1:1", "127.0.0.1:2"]
    assert parse_endpoints(["a:1"]) == ["a:1"]
    with pytest.raises(StrataError):
        parse_endpoints(" , ")


def test_host_names_get_a_dns_target_and_addresses_keep_the_library_default() -> None:
    assert channel_target(["127.0.0.1:2379", "[::1]:2379", "localhost:2379"]) is None
    assert channel_target(["etcd:2379"]) == "dns:///etcd:2379"
    # Several names are resolved to addresses at connect time instead (a dns: target takes one name).
    assert channel_target(["etcd-1:2379", "etcd-2:2379"]) is None


def _loopback_host_name() -> str | None:
    """A name other than localhost that resolves to this machine's loopback, if it has one."""
    for name in (socket.gethostname(), "vm", "runsc"):
        try:
            if socket.gethostbyname(name).startswith("127."):
                return name
        except OSError:
            continue
    return None


async def test_client_reaches_etcd_by_host_name_alone_and_in_a_list(etcd: EtcdProcess, cluster: str) -> None:
    name = _loopback_host_name()
    if name is None:
        pytest.skip("no host name other than localhost resolves to 127.0.0.1 here")
    port = etcd.endpoint.rpartition(":")[2]
    for endpoints in (f"{name}:{port}", f"{name}:{port},{name}:{port}"):
        client = await EtcdClient.connect(endpoints)
        try:
            await client.put(f"/strata/{cluster}/by-name", b"yes")
            assert (await client.get(f"/strata/{cluster}/by-name")) is not None
        finally:
            await client.close()


async def test_put_get_delete_and_prefix(client: EtcdClient, cluster: str) -> None:
    prefix = f"/{cluster}/"
    assert await client.get(prefix + "missing") is None
    await client.put(prefix + "b", "two")
    await client.put(prefix + "a", b"one")
    await client.put(f"/{cluster}x/outside", b"no")
    assert await client.get(prefix + "b") == b"two"
    assert await client.get_prefix(prefix) == [(prefix + "a", b"one"), (prefix + "b", b"two")]
    assert await client.delete(prefix + "a") is True
    assert await client.delete(prefix + "a") is False
    await client.put(prefix + "c", b"three")
    assert await client.delete_prefix(prefix) == 2
    assert await client.get_prefix(prefix) == []
    assert await client.get(f"/{cluster}x/outside") == b"no"


async def test_create_if_absent_lets_exactly_one_concurrent_creator_win(
    etcd: EtcdProcess, client: EtcdClient, cluster: str
) -> None:
    other = await EtcdClient.connect(etcd.endpoint)
    try:
        for attempt in range(20):
            key = f"/{cluster}/race/{attempt}"
            first, second = await asyncio.gather(
                client.create_if_absent(key, b"first"), other.create_if_absent(key, b"second")
            )
            assert [first[0], second[0]].count(True) == 1
            winner_value = b"first" if first[0] else b"second"
            assert first[1] == second[1] == winner_value
            assert await client.get(key) == winner_value
    finally:
        await other.close()


async def test_create_if_absent_reports_existing_value(client: EtcdClient, cluster: str) -> None:
    key = f"/{cluster}/k"
    assert await client.create_if_absent(key, "v1") == (True, b"v1")
    assert await client.create_if_absent(key, "v2") == (False, b"v1")


async def test_compare_and_set(client: EtcdClient, cluster: str) -> None:
    key = f"/{cluster}/cas"
    assert await client.compare_and_set(key, None, b"v1") is True
    assert await client.compare_and_set(key, None, b"other") is False
    assert await client.compare_and_set(key, b"wrong", b"v2") is False
    assert await client.get(key) == b"v1"
    assert await client.compare_and_set(key, "v1", "v2") is True
    assert await client.get(key) == b"v2"


async def test_key_bound_to_an_unrefreshed_lease_expires(client: EtcdClient, cluster: str) -> None:
    key = f"/{cluster}/leased"
    lease_id, _ = await client.grant_lease(1)
    await client.put(key, b"x", lease=lease_id)
    assert await client.get(key) == b"x"

    async def gone() -> bool:
        return await client.get(key) is None

    await eventually(gone)
    assert await client.lease_ttl(lease_id) == -1
    assert await client.keep_alive_once(lease_id) == 0


async def test_kept_alive_lease_outlives_its_ttl_and_revoke_deletes_at_once(
    client: EtcdClient, cluster: str
) -> None:
    key = f"/{cluster}/kept"
    # Two seconds, not one: refreshes every ~0.7 s must survive a fully loaded CI machine.
    lease_id, ttl_s = await client.grant_lease(2)
    await client.put(key, b"x", lease=lease_id)
    keeper = asyncio.create_task(client.keep_lease_alive(lease_id, ttl_s))
    try:
        await asyncio.sleep(ttl_s * 2.5)
        assert await client.get(key) == b"x"
    finally:
        keeper.cancel()
    await client.revoke_lease(lease_id)
    assert await client.get(key) is None
    await client.revoke_lease(lease_id)  # already gone: not an error


async def test_watch_sees_puts_and_deletes_in_order(client: EtcdClient, cluster: str) -> None:
    prefix = f"/{cluster}/w/"
    start = await client.put(f"/{cluster}/unrelated", b"-")
    watcher = asyncio.create_task(collect(client, prefix, 3, start_revision=start + 1))
    await client.put(prefix + "a", b"1")
    await client.put(f"/{cluster}/not-watched", b"-")
    await client.put(prefix + "a", b"2")
    await client.delete(prefix + "a")
    events = await asyncio.wait_for(watcher, 10)
    assert [(e.type, e.key, e.value) for e in events] == [
        (WatchEventType.PUT, prefix + "a", b"1"),
        (WatchEventType.PUT, prefix + "a", b"2"),
        (WatchEventType.DELETE, prefix + "a", b""),
    ]
    assert events[0].revision < events[1].revision < events[2].revision


# grpc.aio's poller may call back into an earlier test's closed event loop when etcd restarts
# ("Event loop is closed", logged by asyncio in this process); no server is at fault.
@pytest.mark.allow_server_errors(tracebacks=True)
async def test_watch_resumes_across_an_etcd_restart_without_loss_or_repeat(cluster: str) -> None:
    prefix = f"/{cluster}/"
    async with EtcdProcess() as etcd:
        client = await EtcdClient.connect(etcd.endpoint)
        try:
            events: list[WatchEvent] = []
            first_seen = asyncio.Event()

            async def follow() -> None:
                async for event in client.watch_prefix(prefix):
                    events.append(event)
                    first_seen.set()
                    if len(events) == 2:
                        return

            watcher = asyncio.create_task(follow())
            await asyncio.sleep(0.2)  # let the watch be created before the first write
            await client.put(prefix + "before", b"1")
            await asyncio.wait_for(first_seen.wait(), 10)
            await asyncio.to_thread(etcd.restart)
            await client.put(prefix + "after", b"2")
            await asyncio.wait_for(watcher, 30)
            assert [e.key for e in events] == [prefix + "before", prefix + "after"]
        finally:
            await client.close()


async def test_watch_from_a_compacted_revision_raises(client: EtcdClient, cluster: str) -> None:
    key = f"/{cluster}/compacted"
    first = await client.put(key, b"1")
    latest = await client.put(key, b"2")
    await client.compact(latest)
    with pytest.raises(WatchCompactedError):
        await collect(client, key, 1, start_revision=first)


async def test_election_one_leader_at_a_time_with_growing_terms(
    etcd: EtcdProcess, client: EtcdClient, cluster: str
) -> None:
    key = f"/{cluster}/leader"
    other = await EtcdClient.connect(etcd.endpoint)
    try:
        lease_a, _ = await client.grant_lease(5)
        lease_b, _ = await other.grant_lease(5)
        term_a = await client.campaign(key, b"node-a", lease_a)
        assert await client.campaign(key, b"node-a", lease_a) == term_a  # re-campaigning keeps the term
        contender = asyncio.create_task(other.campaign(key, b"node-b", lease_b))
        await asyncio.sleep(0.3)
        assert not contender.done()
        leader = await client.leader(key)
        assert leader is not None and leader.value == b"node-a" and leader.create_revision == term_a

        assert await client.resign(key, term_a) is True
        term_b = await asyncio.wait_for(contender, 10)
        assert term_b > term_a
        leader = await other.leader(key)
        assert leader is not None and leader.value == b"node-b"
        assert await client.resign(key, term_a) is False  # a stale term cannot depose the new leader
        await other.revoke_lease(lease_b)
        assert await client.leader(key) is None
        await client.revoke_lease(lease_a)
    finally:
        await other.close()


async def test_connect_to_nothing_fails_fast_as_unavailable() -> None:
    with pytest.raises(StrataError) as raised:
        await EtcdClient.connect(f"127.0.0.1:{free_port()}", request_timeout_s=0.5)
    assert raised.value.reason == ErrorReason.BACKEND_UNAVAILABLE


class _FreezableMember:
    """A TCP proxy in front of etcd that can freeze: its connections stay open and nothing passes,
    as with a member that hangs (SIGSTOP) after clients connected to it."""

    def __init__(self, upstream: str) -> None:
        self._upstream = upstream.rpartition(":")
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self.endpoint = ""

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.endpoint = f"127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    def freeze(self) -> None:
        self._flowing.clear()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection(self._upstream[0], int(self._upstream[2]))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.ensure_future(self._pump(source, sink))
            self._tasks.add(task)

    async def _pump(self, source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
        with contextlib.suppress(OSError):
            while chunk := await source.read(65536):
                await self._flowing.wait()
                sink.write(chunk)
                await sink.drain()
        sink.close()

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self._server is not None:
            self._server.close()


async def _connected_through(member: _FreezableMember, etcd: EtcdProcess) -> EtcdClient:
    """A client of ``member`` and ``etcd`` with a live connection to each (round robin uses both)."""
    await member.start()
    client = await EtcdClient.connect(f"{member.endpoint},{etcd.endpoint}", request_timeout_s=3.0)
    for _ in range(6):
        await client.get("/strata/.ping")
    return client


async def test_a_member_that_hangs_costs_one_short_attempt_not_the_call(
    etcd: EtcdProcess, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coordinator.etcd, "ATTEMPT_TIMEOUT_S", 0.4)  # shorter than the 3 s request timeout
    member = _FreezableMember(etcd.endpoint)
    client = await _connected_through(member, etcd)
    try:
        member.freeze()
        key = f"/{cluster}/hung"
        # Round robin hands about every other call to the frozen member; each must still succeed.
        for index in range(3):
            await client.put(key, str(index))
            assert await client.get(key) == str(index).encode()
            assert await client.create_if_absent(f"{key}/{index}", b"v") == (True, b"v")
            assert await client.compare_and_set(key, str(index), str(index + 1)) is True
            assert await client.delete_if_value(f"{key}/{index}", b"v") is True
    finally:
        await client.close()
        await member.close()


async def test_a_watch_on_a_member_that_hangs_moves_to_another(
    etcd: EtcdProcess, cluster: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(coordinator.etcd, "WATCH_PROBE_S", 0.3)
    monkeypatch.setattr(coordinator.etcd, "WATCH_SILENCE_S", 1.0)
    member = _FreezableMember(etcd.endpoint)
    client = await _connected_through(member, etcd)
    writer = await EtcdClient.connect(etcd.endpoint)
    prefix = f"/{cluster}/watched/"
    try:
        start = (await writer.range_prefix(prefix)).revision + 1
        # Several watches, so some are on the member when it freezes; every one sees every change.
        watches = [
            asyncio.ensure_future(collect(client, f"{prefix}{index}", 2, start_revision=start))
            for index in range(4)
        ]
        await asyncio.sleep(0.5)
        member.freeze()
        for index in range(4):
            await writer.put(f"{prefix}{index}", b"a")
            await writer.delete(f"{prefix}{index}")
        for index, watch in enumerate(watches):
            events = await asyncio.wait_for(watch, 30)
            assert [(event.type, event.key) for event in events] == [
                (WatchEventType.PUT, f"{prefix}{index}"),
                (WatchEventType.DELETE, f"{prefix}{index}"),
            ]
    finally:
        await writer.close()
        await client.close()
        await member.close()
