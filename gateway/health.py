"""``/_/healthcheck``: CloudServer 7 style, one ``{code, message}`` entry per location (and per shard).

``status`` is ``ok``, or ``degraded`` when something is short: a location's datanodes unreachable,
blobs short of their replicas, a metadata shard without a leader or with fewer in-sync replicas
than it should have. Each entry says what and which.

The HTTP status is 503 only when this gateway can serve no request at all: its metadata does not
answer, or no shard has a leader. A single leaderless shard is ``code`` 503 in its own entry (its
buckets answer ``503 ServiceUnavailable`` until a leader is elected) while the answer stays 200:
every gateway sees the same shard map, so a load balancer pulling them all would only turn a
partial outage into a whole one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.context import GatewayServices
from gateway.ports import DatanodeMembership, ShardMap
from protos.common_pb2 import Empty
from protos.errors import StrataError

OK = "OK"
STORAGE_FIELDS = ("used_bytes", "capacity_bytes", "available_bytes")


def _location_names(services: GatewayServices, datanodes: DatanodeMembership | None) -> list[str]:
    names = set(services.locations())
    if datanodes is not None:
        names.update(datanodes.locations())
    return sorted(names)


def shard_entries(shards: ShardMap) -> dict[str, Any]:
    """One ``{code, message, leader, term, isr, replicas}`` entry per shard etcd describes."""
    entries: dict[str, Any] = {}
    for shard, state in sorted(shards.snapshot().items()):
        problems = state.problems()
        entries[shard] = {
            "code": 503 if state.leader is None else 200,
            "message": "degraded: " + "; ".join(problems) if problems else OK,
            "leader": state.leader.node_id if state.leader else None,
            "term": state.leader.term if state.leader else None,
            "isr": list(state.isr.members) if state.isr else None,
            "replicas": state.replicas,
        }
    return entries


def _node_entries(datanodes: DatanodeMembership, members: list[str], down: list[str]) -> dict[str, Any]:
    nodes: dict[str, Any] = {}
    for node_id in members:
        if node_id in down:
            nodes[node_id] = {"code": 503, "message": "unreachable"}
            continue
        entry: dict[str, Any] = {"code": 200, "message": OK}
        storage = (datanodes.info(node_id) or {}).get("storage")
        if isinstance(storage, dict):
            entry.update({name: storage.get(name) for name in STORAGE_FIELDS})
        nodes[node_id] = entry
    return nodes


async def health_report(services: GatewayServices) -> dict[str, Any]:
    datanodes = services.datanodes
    degraded = False
    report: dict[str, Any] = {}
    try:
        repair = await services.metadata.repair_status(Empty())
        report["metadata"] = {"code": 200, "message": OK}
        under_replicated: Mapping[str, int] = dict(repair.entries_by_location)
    except StrataError as error:
        degraded = True
        report["metadata"] = {"code": 503, "message": f"metadata unreachable ({error.reason_name})"}
        under_replicated = {}
    if services.shards is not None:
        shards = shard_entries(services.shards)
        report["shards"] = shards
        degraded = degraded or any(entry["message"] != OK for entry in shards.values())
        if shards and all(entry["leader"] is None for entry in shards.values()):
            report["metadata"] = {"code": 503, "message": "no metadata shard has a leader"}
    locations: dict[str, Any] = {}
    unreachable = datanodes.unreachable() if datanodes is not None else {}
    for name in _location_names(services, datanodes):
        entry: dict[str, Any] = {"code": 200, "message": OK}
        if services.data.is_remote(name):
            config = services.locations().get(name) or {}
            entry["type"] = config.get("type")
            problem = await services.data.location_health(name)
            if problem is not None:
                degraded = True
                entry.update(code=503, message=f"degraded: {problem}")
        if datanodes is not None:
            members = datanodes.members_for_location(name)
            down = unreachable.get(name, [])
            short = int(under_replicated.get(name, 0))
            if members:
                entry["datanodes"] = len(members)
                entry["unreachable"] = down
                entry["under_replicated"] = short
                entry["nodes"] = _node_entries(datanodes, members, down)
            problems = []
            if down:
                problems.append(f"{len(down)} of {len(members)} datanodes unreachable")
            if short:
                problems.append(f"{short} objects with blobs short of their replicas")
            if problems:
                degraded = True
                entry["message"] = "degraded: " + "; ".join(problems)
                if members and len(down) == len(members):
                    entry["code"] = 503
        locations[name] = entry
    return {"status": "degraded" if degraded else "ok", **report, "locations": locations}
