"""Node registry: live nodes announce themselves under ``nodes/<kind>/<id>``, bound to a lease.

Registering also records the node under ``members/<kind>/<id>`` without a lease, so
the cluster remembers the nodes it should have: a member that is not live is down
(its location is degraded), not gone.

A registered node's key exists while its process keeps the lease alive; a
graceful ``close()`` revokes the lease so the node disappears at once, and a
crashed process disappears when its lease expires (``ttl_s``). If the lease is
lost anyway (etcd unreachable for longer than the TTL), the registration
re-creates itself with a fresh lease as soon as etcd answers again.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from typing import Any

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace, keyspace
from coordinator.mirror import PrefixMirror
from datanode.client import NodeInfo
from protos.errors import StrataError

_log = logging.getLogger(__name__)

DEFAULT_TTL_S = 5
_REREGISTER_RETRY_S = 0.5


def _encode_info(kind: str, node_id: str, info: dict[str, Any]) -> bytes:
    return json.dumps({**info, "kind": kind, "node_id": node_id}, sort_keys=True).encode("utf-8")


class Registration:
    """One node's live entry in etcd; keep it for the life of the process, then ``await close()``."""

    def __init__(
        self, client: EtcdClient, key: str, kind: str, node_id: str, info: dict[str, Any], ttl_s: int
    ) -> None:
        self._client = client
        self.key = key
        self.kind = kind
        self.node_id = node_id
        self._info = dict(info)
        self._ttl_s = ttl_s
        self.lease_id = 0
        self._task: asyncio.Task[None] | None = None

    @property
    def info(self) -> dict[str, Any]:
        return dict(self._info)

    async def _register(self) -> None:
        lease_id, granted_ttl_s = await self._client.grant_lease(self._ttl_s)
        self.lease_id, self._ttl_s = lease_id, granted_ttl_s
        try:
            await self._client.put(
                self.key, _encode_info(self.kind, self.node_id, self._info), lease=lease_id
            )
        except StrataError:
            with contextlib.suppress(StrataError):
                await self._client.revoke_lease(lease_id)
            raise

    def _start_keepalive(self) -> None:
        self._task = asyncio.create_task(self._keep_registered(), name=f"registration:{self.key}")

    async def _keep_registered(self) -> None:
        while True:
            await self._client.keep_lease_alive(self.lease_id, self._ttl_s)
            _log.warning("registration %s lost its lease; registering again", self.key)
            while True:
                try:
                    await self._register()
                    break
                except StrataError as error:
                    _log.warning("re-registering %s failed: %s", self.key, error.message)
                    await asyncio.sleep(_REREGISTER_RETRY_S)

    async def update(self, info: dict[str, Any]) -> None:
        """Replaces the published info (same lease)."""
        self._info = dict(info)
        await self._client.put(
            self.key, _encode_info(self.kind, self.node_id, self._info), lease=self.lease_id
        )

    def abandon(self) -> None:
        """Stops refreshing the lease without revoking it, as a crash would: the key expires after the TTL."""
        if self._task is not None:
            self._task.cancel()
            self._task = None

    async def close(self) -> None:
        """Leaves the cluster now: stops the keepalive and revokes the lease (the key vanishes)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self.lease_id:
            try:
                await self._client.revoke_lease(self.lease_id)
            except StrataError as error:
                # Shutdown must not fail on an unreachable etcd: the lease expires by itself.
                _log.warning("could not revoke %s's lease (it will expire): %s", self.key, error.message)
            self.lease_id = 0

    async def __aenter__(self) -> Registration:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()


async def register_node(
    client: EtcdClient,
    cluster: str | Keyspace,
    kind: str,
    node_id: str,
    info: dict[str, Any],
    ttl_s: int = DEFAULT_TTL_S,
) -> Registration:
    """Publishes ``info`` (address, location, zone, capacity, version, ...) at ``nodes/<kind>/<node_id>``.

    A node id already registered is taken over (a restarted process reuses its id).
    """
    space = keyspace(cluster)
    key = space.node(kind, node_id)
    await client.put(space.member(kind, node_id), _encode_info(kind, node_id, info))
    registration = Registration(client, key, kind, node_id, info, ttl_s)
    await registration._register()
    registration._start_keepalive()
    return registration


def _decode_node(key: str, raw: bytes) -> dict[str, Any]:
    info = json.loads(raw)
    if not isinstance(info, dict):
        raise ValueError("node registration is not a JSON object")
    info.setdefault("node_id", Keyspace.last_segment(key))
    return info


class NodeWatcher:
    """The live set of registered nodes of one kind, kept current by an etcd watch.

    It also serves as the datanode client's directory: ``nodes_for_location`` and ``node``.
    For datanodes it also follows ``draining/<id>``: a draining node is left out of
    ``nodes_for_location`` (so no new blob or repair copy goes to it) but ``node`` still finds it,
    so the replicas it holds are read from it until they have moved.
    """

    def __init__(self, client: EtcdClient, cluster: str | Keyspace, kind: str) -> None:
        self.kind = kind
        self._mirror: PrefixMirror[dict[str, Any]] = PrefixMirror(
            client, keyspace(cluster).nodes_prefix(kind), _decode_node
        )
        self._members: PrefixMirror[dict[str, Any]] = PrefixMirror(
            client, keyspace(cluster).members_prefix(kind), _decode_node
        )
        self._draining: PrefixMirror[bool] | None = (
            PrefixMirror(client, keyspace(cluster).draining_prefix, lambda key, raw: True)
            if kind == "datanode"
            else None
        )

    async def start(self) -> None:
        # Members first: a node writes its member key before its live one, so every node found
        # live is already known as a member, and none looks down for having just registered.
        await self._members.start()
        if self._draining is not None:
            await self._draining.start()
        await self._mirror.start()

    async def close(self) -> None:
        await self._members.close()
        if self._draining is not None:
            await self._draining.close()
        await self._mirror.close()

    async def __aenter__(self) -> NodeWatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def nodes(self) -> list[dict[str, Any]]:
        """Every live node's info, ordered by node id."""
        return sorted(self._mirror.items().values(), key=lambda info: str(info.get("node_id", "")))

    def node_ids(self) -> list[str]:
        return [str(info["node_id"]) for info in self.nodes()]

    def info(self, node_id: str) -> dict[str, Any] | None:
        for info in self._mirror.items().values():
            if info.get("node_id") == node_id:
                return info
        return None

    def node(self, node_id: str) -> NodeInfo | None:
        info = self.info(node_id)
        return _node_info(info) if info is not None else None

    def nodes_for_location(self, location: str) -> list[NodeInfo]:
        """Live nodes serving ``location`` that take new blobs (none draining), ordered by node id."""
        draining = self.draining()
        return [
            _node_info(info)
            for info in self.nodes()
            if info.get("location") == location and info.get("node_id") not in draining
        ]

    def draining(self) -> set[str]:
        """Ids of the datanodes being drained (live or not)."""
        if self._draining is None:
            return set()
        return {Keyspace.last_segment(key) for key in self._draining.items()}

    def members_for_location(self, location: str) -> list[str]:
        """Ids of every node that ever registered for ``location``, live or not, sorted."""
        return sorted(
            str(info.get("node_id", ""))
            for info in self._members.items().values()
            if info.get("location") == location
        )

    def unreachable(self) -> dict[str, list[str]]:
        """Per location, the member ids that are not live now."""
        live = set(self.node_ids())
        down: dict[str, list[str]] = {}
        for info in self._members.items().values():
            node_id = str(info.get("node_id", ""))
            if node_id not in live:
                down.setdefault(str(info.get("location", "")), []).append(node_id)
        return {location: sorted(ids) for location, ids in down.items()}

    async def wait_for_draining(self, node_ids: set[str], timeout_s: float) -> None:
        """Waits until exactly ``node_ids`` are marked draining; raises TimeoutError otherwise."""
        if self._draining is None:
            raise ValueError(f"only datanodes are drained, not {self.kind}s")
        await self._draining.wait_until(
            lambda items: {Keyspace.last_segment(key) for key in items} == node_ids, timeout_s
        )

    def locations(self) -> list[str]:
        """Every location some member serves."""
        return sorted({str(info.get("location", "")) for info in self._members.items().values()})

    def add_listener(self, listener: Any) -> None:
        """``listener()`` runs after every membership change."""
        self._mirror.add_listener(listener)

    async def wait_for(self, count: int, timeout_s: float) -> list[dict[str, Any]]:
        """Waits until at least ``count`` nodes are registered; raises TimeoutError otherwise."""
        await self._mirror.wait_until(lambda items: len(items) >= count, timeout_s)
        return self.nodes()

    async def wait_until_gone(self, node_id: str, timeout_s: float) -> None:
        """Waits until ``node_id`` is no longer registered; raises TimeoutError otherwise."""
        await self._mirror.wait_until(
            lambda items: all(info.get("node_id") != node_id for info in items.values()), timeout_s
        )


def _node_info(info: dict[str, Any]) -> NodeInfo:
    return NodeInfo(
        node_id=str(info.get("node_id", "")),
        address=str(info.get("address", "")),
        location=str(info.get("location", "")),
    )


async def wait_for(
    client: EtcdClient, cluster: str | Keyspace, kind: str, count: int, timeout_s: float
) -> list[dict[str, Any]]:
    """Waits until at least ``count`` nodes of ``kind`` are registered; returns their infos."""
    async with NodeWatcher(client, cluster, kind) as watcher:
        return await watcher.wait_for(count, timeout_s)
