"""What ``strata cluster status`` shows beyond the process table, read from the cluster itself.

Per shard (from etcd): leader, term, in-sync replicas and each follower's replication lag; per
datanode (its registration): live or down, capacity and bytes used; and how many objects wait for
repair (each shard leader's ``RepairStatus``). Every part is written to say plainly what is not
known yet (no leader, no progress reported, no metanode answering) rather than fail.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass, field
from typing import Any

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from coordinator.shards import ShardState, read_shards
from metanode.client import MetadataClient
from protos.common_pb2 import Empty, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import RepairStatusResponse

RPC_TIMEOUT_S = 3.0
GATHER_TIMEOUTS = 3  # the whole report may take this many RPC timeouts


@dataclass(frozen=True)
class DatanodeStatus:
    node_id: str
    location: str
    live: bool
    storage: dict[str, Any] | None = None  # used_bytes, capacity_bytes, available_bytes


@dataclass
class RepairCount:
    """Objects queued for repair, summed over the shards whose leader answered."""

    answered: int = 0  # shards counted
    entries: int = 0
    by_location: dict[str, int] = field(default_factory=dict)
    unanswered: dict[str, str] = field(default_factory=dict)  # shard -> why no figure


@dataclass(frozen=True)
class ClusterReport:
    shards: dict[str, ShardState] = field(default_factory=dict)
    metanodes: dict[str, list[str]] = field(default_factory=dict)  # shard -> live metanodes registered for it
    datanodes: list[DatanodeStatus] = field(default_factory=list)
    repair: RepairCount = field(default_factory=RepairCount)
    error: str | None = None  # the cluster could not be read at all


async def _registrations(client: EtcdClient, prefix: str) -> dict[str, dict[str, Any]]:
    found = {}
    for key, raw in await client.get_prefix(prefix):
        try:
            info = json.loads(raw)
        except ValueError:
            continue
        if isinstance(info, dict):
            found[str(info.get("node_id") or Keyspace.last_segment(key))] = info
    return found


async def _shard_repair_count(addresses: list[str], timeout_s: float) -> RepairStatusResponse | str:
    """The repair queue of the first of a shard's metanodes that is not NOT_LEADER, or why none."""
    why = "no metanode registered"
    for address in addresses:
        client = MetadataClient(address, timeout_s=timeout_s)
        try:
            return await client.repair_status(Empty())
        except StrataError as error:
            if error.reason == ErrorReason.NOT_LEADER:
                why = "no metanode answered as leader"
                continue
            why = f"no metanode answered ({error.reason_name})"
        finally:
            await client.close()
    return why


async def _bounded(
    shard: str, addresses: list[str], timeout_s: float
) -> tuple[str, RepairStatusResponse | str]:
    limit = GATHER_TIMEOUTS * timeout_s
    try:
        async with asyncio.timeout(limit):
            answer = await _shard_repair_count(addresses, timeout_s)
    except TimeoutError:
        answer = f"no metanode answered within {limit:.0f} s"
    return shard, answer


async def _repair_count(
    shards: dict[str, ShardState], metanodes: dict[str, dict[str, Any]], timeout_s: float
) -> RepairCount:
    candidates: dict[str, list[str]] = {shard: [] for shard in shards}
    for shard, state in shards.items():
        if state.leader is not None:
            candidates[shard].append(state.leader.address)
    for info in metanodes.values():
        address = str(info.get("address", ""))
        shard = str(info.get("shard", ""))
        if shard and address and address not in candidates.setdefault(shard, []):
            candidates[shard].append(address)
    answers = await asyncio.gather(*(_bounded(s, a, timeout_s) for s, a in sorted(candidates.items())))
    count = RepairCount()
    for shard, answer in answers:
        if isinstance(answer, str):
            count.unanswered[shard] = answer
            continue
        count.answered += 1
        count.entries += int(answer.entries)
        for location, number in answer.entries_by_location.items():
            count.by_location[location] = count.by_location.get(location, 0) + number
    return count


async def gather_report(endpoints: str, cluster: str, timeout_s: float = RPC_TIMEOUT_S) -> ClusterReport:
    """Reads the shard map, registrations and repair queue; an unreachable etcd is a report with ``error``.

    ``timeout_s`` bounds each call; etcd's client retries an unavailable member, so the etcd reads
    together, and each shard's repair figure, are bounded to a few calls' worth too.
    """
    limit = GATHER_TIMEOUTS * timeout_s
    space = Keyspace(cluster)
    try:
        async with asyncio.timeout(limit):
            client = await EtcdClient.connect(endpoints, request_timeout_s=timeout_s)
            try:
                shards = await read_shards(client, space)
                metanodes = await _registrations(client, space.nodes_prefix("metanode"))
                live = await _registrations(client, space.nodes_prefix("datanode"))
                members = await _registrations(client, space.members_prefix("datanode"))
            finally:
                await client.close()
    except StrataError as error:
        return ClusterReport(error=error.message)
    except TimeoutError:
        return ClusterReport(error=f"etcd at {endpoints} did not answer within {limit:.0f} s")
    by_shard: dict[str, list[str]] = {}
    for node_id, info in sorted(metanodes.items()):
        if info.get("shard"):
            by_shard.setdefault(str(info["shard"]), []).append(node_id)
    datanodes = [
        DatanodeStatus(
            node_id,
            str((live.get(node_id) or info).get("location", "")),
            node_id in live,
            _storage(live.get(node_id)),
        )
        for node_id, info in sorted({**members, **live}.items())
    ]
    return ClusterReport(shards, by_shard, datanodes, await _repair_count(shards, metanodes, timeout_s))


def _storage(info: dict[str, Any] | None) -> dict[str, Any] | None:
    storage = info.get("storage") if info else None
    return storage if isinstance(storage, dict) else None


def size_text(count: object) -> str:
    """Bytes for people: ``1536`` -> ``1.5 KiB``."""
    if not isinstance(count, int):
        return "?"
    value = float(count)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{count} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def _shard_lines(shard: str, state: ShardState | None, registered: list[str]) -> list[str]:
    state = state or ShardState(shard)
    leader = state.leader
    head = f"shard {shard}: " + (f"leader {leader.node_id} term {leader.term}" if leader else "no leader")
    if state.isr is not None:
        of = f" of {state.replicas}" if state.replicas is not None else ""
        head += f", ISR {','.join(state.isr.members) or '-'} ({len(state.isr.members)}{of})"
    else:
        head += ", no ISR recorded"
    if state.members is None and registered:
        head += f", registered {','.join(registered)}"
    progress = state.progress
    if progress is not None:
        head += f", commit index {progress.commit_index}"
    lines = [head]
    followers = (
        list(state.members.members)
        if state.members
        else sorted({*registered, *(progress.followers if progress else ())})
    )
    for node in followers:
        if leader is not None and node == leader.node_id:
            continue
        known = progress.followers.get(node) if progress is not None else None
        if known is None:
            lines.append(f"  {node:<14} no progress yet")
        else:
            where = "in ISR" if known.in_isr else "not in ISR"
            lines.append(f"  {node:<14} lag {known.lag} entries ({where}, match index {known.match_index})")
    return lines


def render_report(report: ClusterReport) -> list[str]:
    if report.error is not None:
        return [f"cluster state unavailable: {report.error}"]
    lines: list[str] = []
    for shard in sorted({*report.shards, *report.metanodes}):
        lines += _shard_lines(shard, report.shards.get(shard), report.metanodes.get(shard, []))
    if not lines:
        lines.append("no shard is recorded")
    for node in report.datanodes:
        line = f"{node.node_id:<14} {node.location:<12} {'live' if node.live else 'down'}"
        storage = node.storage
        if node.live and storage is not None:
            line += f"  used {size_text(storage.get('used_bytes'))}"
            if storage.get("capacity_bytes") is not None:
                line += (
                    f", disk {size_text(storage.get('available_bytes'))} free"
                    f" of {size_text(storage.get('capacity_bytes'))}"
                )
        lines.append(line)
    repair = report.repair
    locations = ", ".join(f"{name}: {count}" for name, count in sorted(repair.by_location.items()) if count)
    if repair.answered:
        text = f"under-replicated: {repair.entries} objects waiting for repair"
        text += f" ({locations})" if locations else ""
    else:
        text = "under-replicated: unknown"
    for shard, why in sorted(repair.unanswered.items()):
        text += f"; shard {shard}: {why}"
    lines.append(text)
    return lines


def report_json(report: ClusterReport) -> dict[str, Any]:
    if report.error is not None:
        return {"error": report.error}
    shards = {}
    for shard in sorted({*report.shards, *report.metanodes}):
        entry = (report.shards.get(shard) or ShardState(shard)).to_json()
        entry["registered"] = report.metanodes.get(shard, [])
        shards[shard] = entry
    return {
        "shards": shards,
        "datanodes": {
            node.node_id: {"location": node.location, "live": node.live, "storage": node.storage}
            for node in report.datanodes
        },
        "under_replicated": {
            "entries": report.repair.entries if report.repair.answered else None,
            "by_location": report.repair.by_location,
            "unanswered": report.repair.unanswered,
        },
    }
