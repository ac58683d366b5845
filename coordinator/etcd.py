"""The etcd client Strata uses: the only module that imports the etcd library.

Everything else in Strata talks to etcd through :class:`EtcdClient`, whose
surface is what the cluster needs (keys as ``str``, values as ``bytes``,
transactions for create-if-absent and compare-and-set, leases, prefix watches,
single-key elections). Swapping the underlying library means rewriting this
file only. Failures surface as ``StrataError(BACKEND_UNAVAILABLE)`` when etcd
cannot be reached and ``StrataError(INTERNAL)`` for anything else.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TypeVar

import etcd3aio
import grpc
from etcd3aio import Etcd3Client, EtcdConnectionError, EtcdError, EtcdTransientError, prefix_range_end
from etcd3aio._protobuf import Compare, WatchCreateRequest, WatchRequest, rpc_pb2

from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

_log = logging.getLogger(__name__)

DEFAULT_REQUEST_TIMEOUT_S = 5.0
# One attempt's deadline. A member that hangs (stopped, or cut off with its connection open) still
# looks connected, so the channel keeps picking it: a call spends this on it, not the whole request
# timeout, and the retry goes to the next member (round robin).
ATTEMPT_TIMEOUT_S = 1.0
_KEEPALIVE_RETRY_S = 0.2
# Unavailable calls are retried with doubling backoff (0.05 s .. 1 s): about 4 s in all, within the timeout.
_RPC_ATTEMPTS = 8
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]  # how soon a failed keepalive is retried while the lease may still live

Value = bytes | str
R = TypeVar("R")


_WATCH_BACKOFF_S = (0.05, 1.0)  # first and longest wait before a broken watch reconnects
_WATCH_RETRY_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
# A watch asks for a progress report this often; a stream silent for WATCH_SILENCE_S is on a member
# that hangs, and is reopened (on the next member) from the last revision it delivered.
WATCH_PROBE_S = 1.0
WATCH_SILENCE_S = 3.5


async def _watch_requests(
    key: bytes, range_end: bytes, start_revision: int, finished: asyncio.Event
) -> AsyncIterator[WatchRequest]:
    """The request side of one watch stream: the create request, then progress requests until ``finished``."""
    yield WatchRequest(
        create_request=WatchCreateRequest(key=key, range_end=range_end, start_revision=start_revision)
    )
    while not finished.is_set():
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(finished.wait(), WATCH_PROBE_S)
        if not finished.is_set():
            yield WatchRequest(progress_request=rpc_pb2.WatchProgressRequest())


def _to_bytes(value: Value) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


def parse_endpoints(endpoints: str | Sequence[str]) -> list[str]:
    """``"h1:p1,h2:p2"`` (or a list of them) -> ``["h1:p1", "h2:p2"]``, ``http://`` prefixes dropped."""
    raw = endpoints.split(",") if isinstance(endpoints, str) else list(endpoints)
    parsed = []
    for endpoint in raw:
        endpoint = endpoint.strip()
        for scheme in ("http://", "https://"):
            endpoint = endpoint.removeprefix(scheme)
        endpoint = endpoint.rstrip("/")
        if endpoint:
            parsed.append(endpoint)
    if not parsed:
        raise StrataError(ErrorReason.INVALID_ARGUMENT, f"no etcd endpoint in {endpoints!r}")
    return parsed


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host == "localhost"
    return True


def channel_target(endpoints: Sequence[str]) -> str | None:
    """The gRPC target for endpoints given by host name, or None when they are all addresses.

    The etcd library builds an ``ipv4:`` target, which takes address literals only. One host name
    (e.g. a compose service alias naming every member) becomes a ``dns:`` target, re-resolved
    whenever connections fail, so members that restart on another address are found again.
    """
    hosts = [endpoint.rpartition(":")[0] or endpoint for endpoint in endpoints]
    if all(_is_address(host) for host in hosts):
        return None
    if len(endpoints) == 1:
        return f"dns:///{endpoints[0]}"
    return None


async def _resolved(endpoints: list[str]) -> list[str]:
    """Several endpoints with host names: their IPv4 addresses now (a ``dns:`` target takes one name)."""
    loop = asyncio.get_running_loop()
    resolved: list[str] = []
    for endpoint in endpoints:
        host, _, port = endpoint.rpartition(":")
        if _is_address(host):
            resolved.append(endpoint)
            continue
        try:
            infos = await loop.getaddrinfo(host, int(port), family=socket.AF_INET, type=socket.SOCK_STREAM)
        except (OSError, ValueError) as error:
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE, f"etcd endpoint {endpoint} does not resolve: {error}"
            ) from None
        resolved.extend(f"{info[4][0]}:{port}" for info in infos[:1])
    return resolved


@dataclass(frozen=True)
class KeyValue:
    """One key as etcd stores it; revisions let callers fence and order."""

    key: str
    value: bytes
    create_revision: int
    mod_revision: int
    version: int
    lease: int


@dataclass(frozen=True)
class PrefixSnapshot:
    """All keys under a prefix, read at one cluster revision (watch from ``revision + 1``)."""

    items: list[KeyValue]
    revision: int


class WatchEventType(Enum):
    PUT = "put"
    DELETE = "delete"


@dataclass(frozen=True)
class WatchEvent:
    type: WatchEventType
    key: str
    value: bytes  # empty for DELETE
    revision: int  # the revision of this change
    create_revision: int = 0  # of the key's current incarnation (an election's term); 0 for DELETE


class WatchCompactedError(Exception):
    """The watch start revision was compacted away: reload the prefix and watch again."""

    def __init__(self, compact_revision: int) -> None:
        super().__init__(f"watch revision compacted; oldest available is {compact_revision}")
        self.compact_revision = compact_revision


@contextlib.contextmanager
def _etcd_errors(operation: str) -> Iterator[None]:
    """Turns the library's failures into StrataError with a reason."""
    try:
        yield
    except (EtcdConnectionError, EtcdTransientError, TimeoutError) as error:
        raise StrataError(ErrorReason.BACKEND_UNAVAILABLE, f"etcd {operation}: {error}") from error
    except grpc.aio.AioRpcError as error:
        reason = (
            ErrorReason.BACKEND_UNAVAILABLE
            if error.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)
            else ErrorReason.INTERNAL
        )
        raise StrataError(reason, f"etcd {operation}: {error.code().name} {error.details()}") from error
    except EtcdError as error:
        raise StrataError(ErrorReason.INTERNAL, f"etcd {operation}: {error}") from error


def _holds(response: rpc_pb2.TxnResponse, value: bytes) -> bool:
    """Whether a failed transaction's first read found the key holding ``value``."""
    found = response.responses[0].response_range.kvs
    return bool(found) and bytes(found[0].value) == value


def _compare_mod_revision(key: str, mod_revision: int) -> Compare:
    """etcd3aio builds no mod-revision comparison; the protocol has one."""
    return Compare(
        result=Compare.EQUAL, target=Compare.MOD, key=key.encode("utf-8"), mod_revision=mod_revision
    )


def _key_value(kv: object) -> KeyValue:
    return KeyValue(
        key=kv.key.decode("utf-8"),  # type: ignore[attr-defined]
        value=bytes(kv.value),  # type: ignore[attr-defined]
        create_revision=int(kv.create_revision),  # type: ignore[attr-defined]
        mod_revision=int(kv.mod_revision),  # type: ignore[attr-defined]
        version=int(kv.version),  # type: ignore[attr-defined]
        lease=int(kv.lease),  # type: ignore[attr-defined]
    )


class EtcdClient:
    """Async etcd client with the operations Strata's control plane needs."""

    def __init__(self, raw: Etcd3Client, endpoints: list[str], request_timeout_s: float) -> None:
        self._raw = raw
        self.endpoints = endpoints
        self.request_timeout_s = request_timeout_s

    @classmethod
    async def connect(
        cls,
        endpoints: str | Sequence[str],
        *,
        request_timeout_s: float = DEFAULT_REQUEST_TIMEOUT_S,
        verify: bool = True,
    ) -> EtcdClient:
        """Opens a channel to ``"host:port[,host:port]"``; with ``verify`` fails fast if etcd is unreachable."""
        parsed = parse_endpoints(endpoints)
        target = channel_target(parsed)
        addresses = parsed if target else await _resolved(parsed)
        raw = Etcd3Client(addresses, rpc_max_attempts=_RPC_ATTEMPTS, watch_max_reconnect_backoff_seconds=1.0)
        # Reconnect quickly after an etcd restart; gRPC's default backoff leaves calls failing for seconds.
        raw._manager.grpc_options.extend(_CHANNEL_OPTIONS)
        if target:
            raw._manager.target = target
        await raw.connect()
        client = cls(raw, parsed, request_timeout_s)
        if verify:
            try:
                await client.get("/strata/.ping")
            except StrataError as error:
                await client.close()
                raise StrataError(
                    ErrorReason.BACKEND_UNAVAILABLE, f"etcd at {','.join(parsed)} is not reachable: {error}"
                ) from error
        return client

    async def close(self) -> None:
        await self._raw.close()

    async def __aenter__(self) -> EtcdClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    @property
    def _kv(self) -> etcd3aio.kv.KVService:
        if self._raw.kv is None:
            raise StrataError(ErrorReason.INTERNAL, "etcd client is closed")
        return self._raw.kv

    @property
    def _lease(self) -> etcd3aio.lease.LeaseService:
        if self._raw.lease is None:
            raise StrataError(ErrorReason.INTERNAL, "etcd client is closed")
        return self._raw.lease

    @property
    def _watch(self) -> etcd3aio.watch.WatchService:
        if self._raw.watch is None:
            raise StrataError(ErrorReason.INTERNAL, "etcd client is closed")
        return self._raw.watch

    # ---- keys ---------------------------------------------------------------------------------

    async def _unary(self, operation: str, send: Callable[[float], Awaitable[R]]) -> R:
        """``send(deadline_s)``, tried with short deadlines until the request timeout is spent.

        An attempt that fails for want of etcd (timed out, member unreachable) is sent again; the
        channel gives it to the next member. A caller whose write may have landed on an attempt
        that timed out learns it from ``send`` being called again.
        """
        give_up = time.monotonic() + self.request_timeout_s
        while True:
            remaining_s = give_up - time.monotonic()
            try:
                with _etcd_errors(operation):
                    return await send(max(min(ATTEMPT_TIMEOUT_S, remaining_s), 0.05))
            except StrataError as error:
                if error.reason != ErrorReason.BACKEND_UNAVAILABLE or give_up - time.monotonic() < 0.05:
                    raise

    async def get(self, key: str) -> bytes | None:
        item = await self.get_item(key)
        return item.value if item is not None else None

    async def get_item(self, key: str) -> KeyValue | None:
        """The key with its revisions, or None."""
        response = await self._unary("get", lambda deadline_s: self._kv.get(key, timeout=deadline_s))
        return _key_value(response.kvs[0]) if response.kvs else None

    async def get_prefix(self, prefix: str) -> list[tuple[str, bytes]]:
        """All ``(key, value)`` under ``prefix``, sorted by key."""
        snapshot = await self.range_prefix(prefix)
        return [(item.key, item.value) for item in snapshot.items]

    async def range_prefix(self, prefix: str) -> PrefixSnapshot:
        response = await self._unary(
            "range",
            lambda deadline_s: self._kv.get(
                prefix,
                range_end=prefix_range_end(prefix),
                sort_order=etcd3aio.SortOrder.ASCEND,
                sort_target=etcd3aio.SortTarget.KEY,
                timeout=deadline_s,
            ),
        )
        return PrefixSnapshot([_key_value(kv) for kv in response.kvs], int(response.header.revision))

    async def put(self, key: str, value: Value, lease: int | None = None) -> int:
        """Writes the key; returns the revision of the write."""
        encoded = _to_bytes(value)
        response = await self._unary(
            "put", lambda deadline_s: self._kv.put(key, encoded, lease=lease or 0, timeout=deadline_s)
        )
        return int(response.header.revision)

    async def delete(self, key: str) -> bool:
        """Deletes the key; True if it existed (an attempt that timed out may have deleted it)."""
        response = await self._unary("delete", lambda deadline_s: self._kv.delete(key, timeout=deadline_s))
        return int(response.deleted) > 0

    async def delete_prefix(self, prefix: str) -> int:
        """Deletes every key under ``prefix``; returns how many there were."""
        response = await self._unary(
            "delete",
            lambda deadline_s: self._kv.delete(
                prefix, range_end=prefix_range_end(prefix), timeout=deadline_s
            ),
        )
        return int(response.deleted)

    async def _txn(
        self, compare: list[Compare], success: list[object], failure: list[object]
    ) -> tuple[rpc_pb2.TxnResponse, bool]:
        """The transaction's response, and whether an earlier attempt timed out (and may have run)."""
        attempts = 0

        async def send(deadline_s: float) -> rpc_pb2.TxnResponse:
            nonlocal attempts
            attempts += 1
            return await self._kv.txn(
                compare=compare,
                success=success,
                failure=failure,
                timeout=deadline_s,  # type: ignore[arg-type]
            )

        response = await self._unary("txn", send)
        return response, attempts > 1

    async def create_if_absent(self, key: str, value: Value, lease: int | None = None) -> tuple[bool, bytes]:
        """One transaction: write ``value`` if the key does not exist.

        Returns ``(True, value)`` when this call created it, else ``(False, current value)``.
        """
        created, current = await self._create_if_absent(key, _to_bytes(value), lease)
        return created, current.value

    async def _create_if_absent(self, key: str, value: bytes, lease: int | None) -> tuple[bool, KeyValue]:
        kv = self._kv
        response, retried = await self._txn(
            [kv.txn_compare_create_revision(key, 0)],
            [kv.txn_op_put(key, value, lease=lease or 0)],
            [kv.txn_op_get(key)],
        )
        revision = int(response.header.revision)
        if response.succeeded:
            return True, KeyValue(key, value, revision, revision, 1, lease or 0)
        existing = response.responses[0].response_range.kvs
        if not existing:  # deleted between compare and read cannot happen in one txn; stay defensive
            return await self._create_if_absent(key, value, lease)
        current = _key_value(existing[0])
        # What an attempt that timed out wrote: ours (a lease is never granted twice).
        ours = retried and current.value == value and current.lease == (lease or 0) and current.version == 1
        return ours, current

    async def compare_and_set(
        self, key: str, expected: Value | None, new: Value, lease: int | None = None
    ) -> bool:
        """Writes ``new`` only if the key's value is ``expected`` (``None``: only if the key is absent)."""
        if expected is None:
            created, _ = await self._create_if_absent(key, _to_bytes(new), lease)
            return created
        kv = self._kv
        response, retried = await self._txn(
            [kv.txn_compare_value(key, _to_bytes(expected))],
            [kv.txn_op_put(key, _to_bytes(new), lease=lease or 0)],
            [kv.txn_op_get(key)],
        )
        return bool(response.succeeded) or (retried and _holds(response, _to_bytes(new)))

    async def put_if_revisions(
        self,
        key: str,
        new: Value,
        expected_mod_revision: int,
        guard_key: str,
        guard_create_revision: int,
        lease: int | None = None,
    ) -> bool:
        """Writes ``new`` only if ``key`` was last modified at ``expected_mod_revision`` (0: absent)
        and ``guard_key`` is still the incarnation created at ``guard_create_revision``.

        A leader changes what it owns this way: the guard is its election key and term, so a
        deposed leader's write can never land.
        """
        kv = self._kv
        guard = kv.txn_compare_create_revision(guard_key, guard_create_revision)
        response, retried = await self._txn(
            [_compare_mod_revision(key, expected_mod_revision), guard],
            [kv.txn_op_put(key, _to_bytes(new), lease=lease or 0)],
            [kv.txn_op_get(key), kv.txn_op_get(guard_key)],
        )
        if response.succeeded:
            return True
        # An attempt that timed out wrote it if the guard still holds and the key reads ``new``.
        guard_held = any(
            int(kv_.create_revision) == guard_create_revision
            for kv_ in response.responses[1].response_range.kvs
        )
        return retried and guard_held and _holds(response, _to_bytes(new))

    async def delete_if_value(self, key: str, expected: Value) -> bool:
        """Deletes the key only if its value is still ``expected`` (True also if an attempt that
        timed out deleted it: the key is gone)."""
        kv = self._kv
        response, retried = await self._txn(
            [kv.txn_compare_value(key, _to_bytes(expected))], [kv.txn_op_delete(key)], [kv.txn_op_get(key)]
        )
        return bool(response.succeeded) or (retried and not response.responses[0].response_range.kvs)

    async def delete_if_revision(self, key: str, create_revision: int) -> bool:
        """Deletes the key only if it is still the incarnation created at ``create_revision``."""
        kv = self._kv
        response, retried = await self._txn(
            [kv.txn_compare_create_revision(key, create_revision)],
            [kv.txn_op_delete(key)],
            [kv.txn_op_get(key)],
        )
        return bool(response.succeeded) or (retried and not response.responses[0].response_range.kvs)

    async def compact(self, revision: int) -> None:
        """Discards history older than ``revision`` (watches from before it get WatchCompactedError)."""
        await self._unary(
            "compact", lambda deadline_s: self._kv.compact(revision, physical=True, timeout=deadline_s)
        )

    # ---- leases -------------------------------------------------------------------------------

    async def grant_lease(self, ttl_s: int) -> tuple[int, int]:
        """Grants a lease; returns ``(lease_id, granted_ttl_s)`` (etcd may raise a too-small TTL)."""
        # A grant whose answer was lost leaves a lease nobody keeps alive: it expires by itself.
        response = await self._unary(
            "lease grant", lambda deadline_s: self._lease.grant(int(ttl_s), timeout=deadline_s)
        )
        return int(response.ID), int(response.TTL)

    async def keep_alive_once(self, lease_id: int, timeout_s: float | None = None) -> int:
        """Refreshes the lease once; returns its new TTL in seconds, 0 if the lease no longer exists."""
        with _etcd_errors("lease keepalive"):
            stream = self._lease.keep_alive(lease_id)
            try:
                async with asyncio.timeout(timeout_s or self.request_timeout_s):
                    async for response in stream:
                        return max(0, int(response.TTL))
            finally:
                stream.cancel()
        return 0

    async def keep_lease_alive(self, lease_id: int, ttl_s: int) -> None:
        """Refreshes the lease every third of its TTL; returns only when the lease is gone.

        Unreachable etcd is retried quickly: the lease may still be alive when it comes back.
        """
        interval_s = max(ttl_s / 3.0, 0.1)
        # A member that hangs (stopped, cut off) holds a call until its timeout: give up on it soon
        # enough that retries, which the channel sends to the next member, still beat the lease.
        attempt_timeout_s = min(self.request_timeout_s, max(ttl_s / 6.0, 0.5))
        while True:
            await asyncio.sleep(interval_s)
            try:
                remaining_s = await self.keep_alive_once(lease_id, attempt_timeout_s)
            except StrataError as error:
                _log.warning("lease %x keepalive failed: %s", lease_id, error.message)
                interval_s = _KEEPALIVE_RETRY_S
                continue
            if remaining_s <= 0:
                _log.warning("lease %x expired", lease_id)
                return
            interval_s = max(remaining_s / 3.0, 0.1)

    async def revoke_lease(self, lease_id: int) -> None:
        """Revokes the lease, deleting its keys at once; a lease already gone is not an error."""
        try:
            await self._unary(
                "lease revoke", lambda deadline_s: self._lease.revoke(lease_id, timeout=deadline_s)
            )
        except StrataError as error:
            cause = error.__cause__
            if isinstance(cause, grpc.aio.AioRpcError) and cause.code() == grpc.StatusCode.NOT_FOUND:
                return
            raise

    async def lease_ttl(self, lease_id: int) -> int:
        """Remaining TTL of the lease in seconds, or -1 if it does not exist."""
        response = await self._unary(
            "lease ttl", lambda deadline_s: self._lease.time_to_live(lease_id, timeout=deadline_s)
        )
        return int(response.TTL)

    # ---- watches ------------------------------------------------------------------------------

    async def watch_prefix(self, prefix: str, start_revision: int | None = None) -> AsyncIterator[WatchEvent]:
        """Every change under ``prefix`` from ``start_revision`` (default: from now), in order.

        The stream reconnects by itself when etcd restarts or the connection drops, resuming after
        the last revision it delivered, so no change is lost or repeated. It raises
        :class:`WatchCompactedError` if etcd no longer has the history to resume from.
        """
        async for event in self._watch_range(prefix, prefix_range_end(prefix), start_revision):
            yield event

    async def watch_key(self, key: str, start_revision: int | None = None) -> AsyncIterator[WatchEvent]:
        """Every change of one key, with the same guarantees as :meth:`watch_prefix`."""
        async for event in self._watch_range(key, None, start_revision):
            yield event

    async def _watch_range(
        self, key: str, range_end: bytes | None, start_revision: int | None
    ) -> AsyncIterator[WatchEvent]:
        next_revision = start_revision or 0
        backoff_s = _WATCH_BACKOFF_S[0]
        while True:
            finished = asyncio.Event()
            stream = self._watch._stub.Watch(
                _watch_requests(key.encode("utf-8"), range_end or b"", next_revision, finished)
            )
            try:
                while True:
                    try:
                        async with asyncio.timeout(WATCH_SILENCE_S):
                            response = await stream.read()
                    except TimeoutError:
                        # Not even the progress requests were answered: the member hangs.
                        _log.warning("etcd watch %s: no answer in %.1fs, reconnecting", key, WATCH_SILENCE_S)
                        break
                    if response is grpc.aio.EOF:
                        return
                    assert isinstance(response, rpc_pb2.WatchResponse)
                    if response.compact_revision > 0:
                        raise WatchCompactedError(int(response.compact_revision))
                    if response.canceled:
                        raise StrataError(
                            ErrorReason.INTERNAL, f"etcd cancelled the watch: {response.cancel_reason}"
                        )
                    # Resume after the last event delivered (a watch "from now" after its start). A
                    # progress report's revision is not used: etcd 3.4 may send one ahead of events.
                    if response.events:
                        next_revision = int(response.events[-1].kv.mod_revision) + 1
                    elif response.created and next_revision == 0:
                        next_revision = int(response.header.revision) + 1
                    backoff_s = _WATCH_BACKOFF_S[0]
                    for event in response.events:
                        is_delete = event.type == 1  # mvccpb.Event.DELETE
                        yield WatchEvent(
                            type=WatchEventType.DELETE if is_delete else WatchEventType.PUT,
                            key=event.kv.key.decode("utf-8"),
                            value=b"" if is_delete else bytes(event.kv.value),
                            revision=int(event.kv.mod_revision),
                            create_revision=0 if is_delete else int(event.kv.create_revision),
                        )
            except grpc.aio.AioRpcError as error:
                if error.code() not in _WATCH_RETRY_CODES:
                    raise StrataError(
                        ErrorReason.INTERNAL, f"etcd watch: {error.code().name} {error.details()}"
                    ) from error
                # The member went away (killed, restarted): resume after the last revision delivered.
                _log.warning("etcd watch %s: %s, reconnecting in %.2fs", key, error.code().name, backoff_s)
                await asyncio.sleep(backoff_s)
                backoff_s = min(backoff_s * 2, _WATCH_BACKOFF_S[1])
            finally:
                # Ends the request stream, so gRPC's task feeding it finishes instead of being
                # collected while pending (a broken stream does not cancel it).
                finished.set()
                stream.cancel()

    # ---- elections ----------------------------------------------------------------------------

    async def campaign(self, key: str, value: Value, lease_id: int) -> int:
        """Blocks until this lease holds ``key``; returns the term (the key's create revision).

        One key per election: whoever creates it leads until it is deleted or its lease expires.
        Terms grow with every new leadership, so they serve as fencing epochs.
        """
        encoded = _to_bytes(value)
        while True:
            created, current = await self._create_if_absent(key, encoded, lease_id)
            if created or current.lease == lease_id:
                return current.create_revision
            await self._wait_until_deleted(key, current.mod_revision + 1)

    async def _wait_until_deleted(self, key: str, from_revision: int) -> None:
        try:
            async for event in self.watch_key(key, start_revision=from_revision):
                if event.type is WatchEventType.DELETE:
                    return
        except WatchCompactedError:
            return  # history is gone; the caller re-checks the key itself

    async def leader(self, key: str) -> KeyValue | None:
        """The current holder of an election key (value and term = ``create_revision``), or None."""
        return await self.get_item(key)

    async def resign(self, key: str, term: int) -> bool:
        """Gives up leadership of ``key`` if this term still holds it."""
        return await self.delete_if_revision(key, term)
