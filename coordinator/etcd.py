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
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from enum import Enum

import etcd3aio
import grpc
from etcd3aio import Etcd3Client, EtcdConnectionError, EtcdError, EtcdTransientError, prefix_range_end
from etcd3aio._protobuf import Compare, WatchCreateRequest, WatchRequest

from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

_log = logging.getLogger(__name__)

DEFAULT_REQUEST_TIMEOUT_S = 5.0
_KEEPALIVE_RETRY_S = 0.2
# Unavailable calls are retried with doubling backoff (0.05 s .. 1 s): about 4 s in all, within the timeout.
_RPC_ATTEMPTS = 8
_CHANNEL_OPTIONS = [
    ("grpc.initial_reconnect_backoff_ms", 100),
    ("grpc.min_reconnect_backoff_ms", 100),
    ("grpc.max_reconnect_backoff_ms", 1000),
]  # how soon a failed keepalive is retried while the lease may still live

Value = bytes | str


_WATCH_BACKOFF_S = (0.05, 1.0)  # first and longest wait before a broken watch reconnects
_WATCH_RETRY_CODES = (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED)


async def _watch_requests(
    key: bytes, range_end: bytes, start_revision: int, finished: asyncio.Event
) -> AsyncIterator[WatchRequest]:
    """The request side of one watch stream: the create request, then open until ``finished``."""
    yield WatchRequest(
        create_request=WatchCreateRequest(key=key, range_end=range_end, start_revision=start_revision)
    )
    await finished.wait()


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

    async def get(self, key: str) -> bytes | None:
        item = await self.get_item(key)
        return item.value if item is not None else None

    async def get_item(self, key: str) -> KeyValue | None:
        """The key with its revisions, or None."""
        with _etcd_errors("get"):
            response = await self._kv.get(key, timeout=self.request_timeout_s)
        return _key_value(response.kvs[0]) if response.kvs else None

    async def get_prefix(self, prefix: str) -> list[tuple[str, bytes]]:
        """All ``(key, value)`` under ``prefix``, sorted by key."""
        snapshot = await self.range_prefix(prefix)
        return [(item.key, item.value) for item in snapshot.items]

    async def range_prefix(self, prefix: str) -> PrefixSnapshot:
        with _etcd_errors("range"):
            response = await self._kv.get(
                prefix,
                range_end=prefix_range_end(prefix),
                sort_order=etcd3aio.SortOrder.ASCEND,
                sort_target=etcd3aio.SortTarget.KEY,
                timeout=self.request_timeout_s,
            )
        return PrefixSnapshot([_key_value(kv) for kv in response.kvs], int(response.header.revision))

    async def put(self, key: str, value: Value, lease: int | None = None) -> int:
        """Writes the key; returns the revision of the write."""
        with _etcd_errors("put"):
            response = await self._kv.put(
                key, _to_bytes(value), lease=lease or 0, timeout=self.request_timeout_s
            )
        return int(response.header.revision)

    async def delete(self, key: str) -> bool:
        """Deletes the key; True if it existed."""
        with _etcd_errors("delete"):
            response = await self._kv.delete(key, timeout=self.request_timeout_s)
        return int(response.deleted) > 0

    async def delete_prefix(self, prefix: str) -> int:
        """Deletes every key under ``prefix``; returns how many there were."""
        with _etcd_errors("delete"):
            response = await self._kv.delete(
                prefix, range_end=prefix_range_end(prefix), timeout=self.request_timeout_s
            )
        return int(response.deleted)

    async def create_if_absent(self, key: str, value: Value, lease: int | None = None) -> tuple[bool, bytes]:
        """One transaction: write ``value`` if the key does not exist.

        Returns ``(True, value)`` when this call created it, else ``(False, current value)``.
        """
        created, current = await self._create_if_absent(key, _to_bytes(value), lease)
        return created, current.value

    async def _create_if_absent(self, key: str, value: bytes, lease: int | None) -> tuple[bool, KeyValue]:
        kv = self._kv
        with _etcd_errors("txn"):
            response = await kv.txn(
                compare=[kv.txn_compare_create_revision(key, 0)],
                success=[kv.txn_op_put(key, value, lease=lease or 0)],
                failure=[kv.txn_op_get(key)],
                timeout=self.request_timeout_s,
            )
        revision = int(response.header.revision)
        if response.succeeded:
            return True, KeyValue(key, value, revision, revision, 1, lease or 0)
        existing = response.responses[0].response_range.kvs
        if not existing:  # deleted between compare and read cannot happen in one txn; stay defensive
            return await self._create_if_absent(key, value, lease)
        return False, _key_value(existing[0])

    async def compare_and_set(
        self, key: str, expected: Value | None, new: Value, lease: int | None = None
    ) -> bool:
        """Writes ``new`` only if the key's value is ``expected`` (``None``: only if the key is absent)."""
        if expected is None:
            created, _ = await self._create_if_absent(key, _to_bytes(new), lease)
            return created
        kv = self._kv
        with _etcd_errors("txn"):
            response = await kv.txn(
                compare=[kv.txn_compare_value(key, _to_bytes(expected))],
                success=[kv.txn_op_put(key, _to_bytes(new), lease=lease or 0)],
                timeout=self.request_timeout_s,
            )
        return bool(response.succeeded)

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
        with _etcd_errors("txn"):
            response = await kv.txn(
                compare=[
                    _compare_mod_revision(key, expected_mod_revision),
                    kv.txn_compare_create_revision(guard_key, guard_create_revision),
                ],
                success=[kv.txn_op_put(key, _to_bytes(new), lease=lease or 0)],
                timeout=self.request_timeout_s,
            )
        return bool(response.succeeded)

    async def delete_if_value(self, key: str, expected: Value) -> bool:
        """Deletes the key only if its value is still ``expected``."""
        kv = self._kv
        with _etcd_errors("txn"):
            response = await kv.txn(
                compare=[kv.txn_compare_value(key, _to_bytes(expected))],
                success=[kv.txn_op_delete(key)],
                timeout=self.request_timeout_s,
            )
        return bool(response.succeeded)

    async def delete_if_revision(self, key: str, create_revision: int) -> bool:
        """Deletes the key only if it is still the incarnation created at ``create_revision``."""
        kv = self._kv
        with _etcd_errors("txn"):
            response = await kv.txn(
                compare=[kv.txn_compare_create_revision(key, create_revision)],
                success=[kv.txn_op_delete(key)],
                timeout=self.request_timeout_s,
            )
        return bool(response.succeeded)

    async def compact(self, revision: int) -> None:
        """Discards history older than ``revision`` (watches from before it get WatchCompactedError)."""
        with _etcd_errors("compact"):
            await self._kv.compact(revision, physical=True, timeout=self.request_timeout_s)

    # ---- leases -------------------------------------------------------------------------------

    async def grant_lease(self, ttl_s: int) -> tuple[int, int]:
        """Grants a lease; returns ``(lease_id, granted_ttl_s)`` (etcd may raise a too-small TTL)."""
        with _etcd_errors("lease grant"):
            response = await self._lease.grant(int(ttl_s), timeout=self.request_timeout_s)
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
            with _etcd_errors("lease revoke"):
                await self._lease.revoke(lease_id, timeout=self.request_timeout_s)
        except StrataError as error:
            cause = error.__cause__
            if isinstance(cause, grpc.aio.AioRpcError) and cause.code() == grpc.StatusCode.NOT_FOUND:
                return
            raise

    async def lease_ttl(self, lease_id: int) -> int:
        """Remaining TTL of the lease in seconds, or -1 if it does not exist."""
        with _etcd_errors("lease ttl"):
            response = await self._lease.time_to_live(lease_id, timeout=self.request_timeout_s)
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
                async for response in stream:
                    if response.compact_revision > 0:
                        raise WatchCompactedError(int(response.compact_revision))
                    if response.canceled:
                        raise StrataError(
                            ErrorReason.INTERNAL, f"etcd cancelled the watch: {response.cancel_reason}"
                        )
                    if response.header.revision > 0:
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
                return
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
