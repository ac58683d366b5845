"""The shard map as etcd holds it: each shard's members, in-sync replicas, leader and progress.

Keys under ``shards/<id>/`` (values are JSON)::

    members   {"replicas": 3, "members": ["metanode-1", "metanode-2", "metanode-3"]}
    isr       {"term": <int>, "members": [node ids in sync]}
    leader    {"node_id": ..., "address": "host:port"}   the election key; its create revision is the term
    progress  {"term", "leader", "commit_index", "followers": {id: {"match_index", "lag", "in_isr"}},
               "updated_ms", "log_base"}               written by the leader about every second

:func:`shard_states` turns those keys into :class:`ShardState` values; :class:`ShardWatcher` keeps
them current from a watch, for gateways (leader routing, health) and operators' tools.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace, keyspace
from coordinator.mirror import PrefixMirror

_log = logging.getLogger(__name__)

MEMBERS, ISR, LEADER, PROGRESS = "members", "isr", "leader", "progress"


class ShardLeader(NamedTuple):
    node_id: str
    address: str
    term: int  # the election key's create revision


@dataclass(frozen=True)
class FollowerProgress:
    match_index: int
    lag: int  # entries behind the leader's commit index
    in_isr: bool


@dataclass(frozen=True)
class ShardProgress:
    term: int
    leader: str
    commit_index: int
    followers: Mapping[str, FollowerProgress]
    updated_ms: int
    # The last log entry the leader trimmed in its term (0: none yet): a follower whose match index
    # is below it comes back through a snapshot.
    log_base: int = 0


@dataclass(frozen=True)
class ShardMembers:
    replicas: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class ShardIsr:
    term: int
    members: tuple[str, ...]


@dataclass(frozen=True)
class ShardState:
    """One shard as etcd describes it; a field is None when its key is absent (or unreadable)."""

    shard: str
    members: ShardMembers | None = None
    isr: ShardIsr | None = None
    leader: ShardLeader | None = None
    # Rewritten every second: not part of equality, so watchers are told only of real changes.
    progress: ShardProgress | None = field(default=None, compare=False)

    @property
    def replicas(self) -> int | None:
        return self.members.replicas if self.members is not None else None

    def problems(self) -> list[str]:
        """Why the shard is degraded (no leader, fewer in-sync replicas than it should have), or []."""
        found = []
        if self.leader is None:
            found.append("no leader")
        replicas = self.replicas
        if self.isr is not None and replicas is not None and len(self.isr.members) < replicas:
            found.append(f"{len(self.isr.members)} of {replicas} replicas in sync")
        return found

    def to_json(self) -> dict[str, Any]:
        progress = self.progress
        return {
            "leader": self.leader.node_id if self.leader else None,
            "address": self.leader.address if self.leader else None,
            "term": self.leader.term if self.leader else None,
            "replicas": self.replicas,
            "members": list(self.members.members) if self.members else None,
            "isr": list(self.isr.members) if self.isr else None,
            "isr_term": self.isr.term if self.isr else None,
            "progress": None
            if progress is None
            else {
                "term": progress.term,
                "leader": progress.leader,
                "commit_index": progress.commit_index,
                "updated_ms": progress.updated_ms,
                "log_base": progress.log_base,
                "followers": {
                    node: {"match_index": f.match_index, "lag": f.lag, "in_isr": f.in_isr}
                    for node, f in sorted(progress.followers.items())
                },
            },
        }


ShardField = ShardMembers | ShardIsr | ShardProgress | dict[str, str] | None


def _object(raw: bytes) -> dict[str, Any]:
    value = json.loads(raw)
    if not isinstance(value, dict):
        raise ValueError("not a JSON object")
    return value


def _ids(value: object) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise ValueError("members must be a list of node ids")
    return tuple(value)


def _int(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"expected an integer, not {value!r}")
    return value


def decode_field(name: str, raw: bytes) -> ShardField:
    """One ``shards/<id>/<name>`` value; raises ValueError if it does not follow the documented JSON."""
    if name == MEMBERS:
        value = _object(raw)
        return ShardMembers(_int(value["replicas"]), _ids(value["members"]))
    if name == ISR:
        value = _object(raw)
        return ShardIsr(_int(value["term"]), _ids(value["members"]))
    if name == LEADER:
        value = _object(raw)
        return {"node_id": str(value["node_id"]), "address": str(value["address"])}
    if name == PROGRESS:
        value = _object(raw)
        followers = value.get("followers", {})
        if not isinstance(followers, dict):
            raise ValueError("followers must be an object")
        return ShardProgress(
            term=_int(value["term"]),
            leader=str(value["leader"]),
            commit_index=_int(value["commit_index"]),
            followers={
                str(node): FollowerProgress(_int(f["match_index"]), _int(f["lag"]), bool(f["in_isr"]))
                for node, f in followers.items()
            },
            updated_ms=_int(value.get("updated_ms", 0)),
            log_base=_int(value.get("log_base", 0)),
        )
    return None  # a key this version does not know: ignored


def split_key(prefix: str, key: str) -> tuple[str, str] | None:
    """``<prefix><shard>/<field>`` -> ``(shard, field)``; None for any other shape."""
    shard, slash, name = key.removeprefix(prefix).partition("/")
    if not key.startswith(prefix) or not shard or not slash or not name or "/" in name:
        return None
    return shard, name


def shard_states(prefix: str, entries: Mapping[str, tuple[ShardField, int]]) -> dict[str, ShardState]:
    """``{key: (decoded field, create revision)}`` under ``prefix`` -> ``{shard: ShardState}``."""
    parts: dict[str, dict[str, Any]] = {}
    for key, (value, create_revision) in entries.items():
        where = split_key(prefix, key)
        if where is None or value is None:
            continue
        shard, name = where
        found: object = value
        if name == LEADER and isinstance(value, dict):
            found = ShardLeader(value["node_id"], value["address"], create_revision)
        parts.setdefault(shard, {})[name] = found
    return {
        shard: ShardState(
            shard=shard,
            members=fields.get(MEMBERS),
            isr=fields.get(ISR),
            leader=fields.get(LEADER),
            progress=fields.get(PROGRESS),
        )
        for shard, fields in sorted(parts.items())
    }


async def read_shards(client: EtcdClient, cluster: str | Keyspace) -> dict[str, ShardState]:
    """The shard map as it is now (one etcd read); unreadable values count as absent."""
    prefix = keyspace(cluster).shards_prefix
    snapshot = await client.range_prefix(prefix)
    entries: dict[str, tuple[ShardField, int]] = {}
    for item in snapshot.items:
        where = split_key(prefix, item.key)
        if where is None:
            continue
        try:
            entries[item.key] = (decode_field(where[1], item.value), item.create_revision)
        except (ValueError, KeyError, TypeError):
            continue
    return shard_states(prefix, entries)


class ShardWatcher:
    """``{shard: ShardState}`` kept current by an etcd watch of the ``shards/`` prefix."""

    def __init__(self, client: EtcdClient, cluster: str | Keyspace) -> None:
        self._prefix = keyspace(cluster).shards_prefix
        self._mirror: PrefixMirror[ShardField] = PrefixMirror(client, self._prefix, self._decode)
        self._states: dict[str, ShardState] = {}
        self._listeners: list[Callable[[], None]] = []
        self._changed = asyncio.Event()
        self._mirror.add_listener(self._rebuild)

    def _decode(self, key: str, raw: bytes) -> ShardField:
        where = split_key(self._prefix, key)
        return decode_field(where[1], raw) if where is not None else None

    def _rebuild(self) -> None:
        entries = {
            key: (value, self._mirror.create_revision(key) or 0)
            for key, value in self._mirror.items().items()
        }
        states = shard_states(self._prefix, entries)
        changed = states != self._states
        self._states = states
        if changed:
            self._changed.set()
            for listener in self._listeners:
                try:
                    listener()
                except Exception:  # one failing listener must not keep the others uninformed
                    _log.exception("shard map listener failed")

    async def start(self) -> None:
        """Loads the shard map (raises if etcd is unreachable) and starts following it."""
        await self._mirror.start()

    async def close(self) -> None:
        await self._mirror.close()

    async def __aenter__(self) -> ShardWatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def snapshot(self) -> dict[str, ShardState]:
        return dict(self._states)

    def state(self, shard: str) -> ShardState | None:
        return self._states.get(shard)

    def shards(self) -> list[str]:
        return sorted(self._states)

    def leader(self, shard: str) -> ShardLeader | None:
        state = self._states.get(shard)
        return state.leader if state is not None else None

    def isr(self, shard: str) -> list[str]:
        state = self._states.get(shard)
        return list(state.isr.members) if state is not None and state.isr is not None else []

    def members(self, shard: str) -> list[str]:
        state = self._states.get(shard)
        return list(state.members.members) if state is not None and state.members is not None else []

    def add_listener(self, listener: Callable[[], None]) -> None:
        """``listener()`` runs on the loop after a shard's members, ISR or leader change (not on progress)."""
        self._listeners.append(listener)

    async def wait_for_change(self, timeout_s: float) -> None:
        """Returns after the next change of members, ISR or leader, or after ``timeout_s``."""
        self._changed.clear()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout_s)

    async def wait_for_leader(self, shard: str, timeout_s: float, newer_than: int = 0) -> ShardLeader:
        """The shard's leader once one with a term above ``newer_than`` holds it; TimeoutError otherwise."""

        key = f"{self._prefix}{shard}/{LEADER}"

        def current() -> ShardLeader | None:
            value = self._mirror.get(key)
            if not isinstance(value, dict):
                return None
            return ShardLeader(value["node_id"], value["address"], self._mirror.create_revision(key) or 0)

        def elected(_: object) -> bool:
            leader = current()
            return leader is not None and leader.term > newer_than

        # Read from the mirror itself: its waiters may wake before this watcher's own listener ran.
        await self._mirror.wait_until(elected, timeout_s)
        leader = current()
        assert leader is not None
        return leader
