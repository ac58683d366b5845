"""Bitrot detection and healing (DESIGN 6): the elected coordinator's scrubber.

A pass asks every live datanode to scrub itself (the ``Scrub`` RPC: each blob re-read and
checked against its per-chunk CRCs at ``rate_mb_per_s``). A datanode quarantines what is
corrupt, so the replica reads as missing; the scrubber then heals each one: it finds the
other datanodes of the same location that hold the blob (``Head``), copies it back from one
of them onto the node that lost it (the repair copy path of ``ReplicatedDataClient``: the
source verifies every chunk as it sends it), and so the blob's recorded replicas are whole
again without any metadata change. A blob no datanode of its location holds a good copy of is
logged as an error and counted (``unrecoverable``) at every pass until it is deleted; nothing
drops it. While some datanode of the location is down or unreachable (it may hold a good copy),
the blob counts as ``heal_failed`` and is tried again at the next pass.

Between full passes, a quick pass every ``heal_interval_s`` heals only what was quarantined
meanwhile (by a GET that met a corrupt replica, say), without re-reading anything.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Protocol

from datanode.client import NodeDirectory, NodeInfo, ReplicatedDataClient
from protos.common_pb2 import BlobRef
from protos.data_pb2 import ScrubProgress
from protos.errors import StrataError
from strata.runtime import metrics
from strata.runtime.log import log_fields
from strata.runtime.periodic import PeriodicTask

log = logging.getLogger("coordinator.scrub")

DEFAULT_RATE_MB_PER_S = 50.0
DEFAULT_INTERVAL_S = 3600.0
DEFAULT_HEAL_INTERVAL_S = 30.0


class LiveDatanodes(NodeDirectory, Protocol):
    def locations(self) -> list[str]:
        """Every location some datanode serves."""
        ...


@dataclass(frozen=True)
class ScrubStats:
    nodes_scrubbed: int = 0  # datanodes whose pass completed
    nodes_failed: int = 0  # datanodes whose pass broke off (unreachable, stopped): retried next pass
    blobs_checked: int = 0
    bytes_checked: int = 0
    corrupt: int = 0  # corrupt replicas found (and quarantined), this pass or earlier and not yet healed
    healed: int = 0  # of those, copied back from a good replica
    unrecoverable: int = 0  # no datanode of the location holds a good copy
    heal_failed: int = 0  # a good copy exists, or may on a datanode down now, but was not copied: retried

    def __add__(self, other: ScrubStats) -> ScrubStats:
        return ScrubStats(**{f.name: getattr(self, f.name) + getattr(other, f.name) for f in fields(self)})


ProgressListener = Callable[[str, ScrubProgress], None]
"""Called with a datanode id and each progress message of its pass (for progress bars)."""


class Scrubber:
    """Scrubs every live datanode and heals corrupt replicas: ``run_once`` now, or periodically once started."""

    def __init__(
        self,
        datanodes: LiveDatanodes,
        data: ReplicatedDataClient,
        *,
        rate_mb_per_s: float = DEFAULT_RATE_MB_PER_S,
        interval_s: float = DEFAULT_INTERVAL_S,
        heal_interval_s: float = DEFAULT_HEAL_INTERVAL_S,
    ) -> None:
        if rate_mb_per_s < 0:
            raise ValueError("rate_mb_per_s must be >= 0 (0: unbounded)")
        self._datanodes = datanodes
        self._data = data
        self.rate_mb_per_s = rate_mb_per_s
        self.interval_s = interval_s
        self.heal_interval_s = heal_interval_s
        self._full_pass = asyncio.Lock()
        self._healing: set[tuple[str, str]] = set()  # (node id, blob id) being healed now
        self._periodic = PeriodicTask("scrub", self._logged_pass, lambda: self.interval_s, log)
        self._quick = PeriodicTask("scrub-heal", self._logged_heal_pass, lambda: self.heal_interval_s, log)

    def start(self) -> None:
        self._periodic.start()
        self._quick.start()

    async def stop(self) -> None:
        await self._quick.stop()
        await self._periodic.stop()

    async def run_once(
        self, on_progress: ProgressListener | None = None, *, unhealed_only: bool = False
    ) -> ScrubStats:
        """One pass over every live datanode (concurrently: each scrubs its own disk at the rate);
        ``unhealed_only`` heals what is quarantined already without verifying anything."""
        nodes = [
            node
            for location in self._datanodes.locations()
            for node in self._datanodes.nodes_for_location(location)
        ]
        if unhealed_only:
            results = await asyncio.gather(*(self._scrub_node(node, on_progress, True) for node in nodes))
        else:
            async with self._full_pass:
                results = await asyncio.gather(
                    *(self._scrub_node(node, on_progress, False) for node in nodes)
                )
        total = sum(results, ScrubStats())
        _count_pass(total, unhealed_only)
        if total.corrupt or total.nodes_failed or not unhealed_only:
            log.info(
                "scrub pass done", extra=log_fields(**{f.name: getattr(total, f.name) for f in fields(total)})
            )
        return total

    async def _logged_pass(self) -> None:
        await self.run_once()

    async def _logged_heal_pass(self) -> None:
        await self.run_once(unhealed_only=True)

    async def _scrub_node(
        self, node: NodeInfo, on_progress: ProgressListener | None, unhealed_only: bool
    ) -> ScrubStats:
        stats = ScrubStats()
        last: ScrubProgress | None = None
        try:
            progress = self._data.client_for(node.address).scrub(
                self.rate_mb_per_s, unhealed_only=unhealed_only
            )
            async for message in progress:
                last = message
                if on_progress is not None:
                    on_progress(node.node_id, message)
                for blob_id in message.corrupt_blob_ids:
                    stats += await self._heal(node, blob_id)
        except StrataError as error:
            log.warning(
                "scrub of a datanode broke off; the next pass tries again",
                extra=log_fields(node_id=node.node_id, reason=error.reason_name, error=error.message),
            )
            return stats + ScrubStats(nodes_failed=1)
        checked = ScrubStats(
            nodes_scrubbed=1,
            blobs_checked=last.blobs_checked if last else 0,
            bytes_checked=last.bytes_checked if last else 0,
        )
        return stats + checked

    async def _heal(self, node: NodeInfo, blob_id: str) -> ScrubStats:
        """Copies a good replica of ``blob_id`` back onto ``node``, which quarantined its own."""
        if (node.node_id, blob_id) in self._healing:
            return ScrubStats()  # the other pass is on it
        self._healing.add((node.node_id, blob_id))
        try:
            return await self._heal_from_peers(node, blob_id)
        except StrataError as error:  # e.g. a datanode left the cluster meanwhile
            log.warning(
                "corrupt replica not healed yet; the next pass tries again",
                extra=log_fields(blob_id=blob_id, node_id=node.node_id, error=error.message),
            )
            return ScrubStats(corrupt=1, heal_failed=1)
        finally:
            self._healing.discard((node.node_id, blob_id))

    async def _heal_from_peers(self, node: NodeInfo, blob_id: str) -> ScrubStats:
        peers = [
            peer for peer in self._datanodes.nodes_for_location(node.location) if peer.node_id != node.node_id
        ]
        found = await asyncio.gather(
            *(self._size_on(peer, blob_id) for peer in peers), return_exceptions=True
        )
        holders = [(peer, size) for peer, size in zip(peers, found, strict=True) if isinstance(size, int)]
        unreachable = [
            peer.node_id for peer, size in zip(peers, found, strict=True) if isinstance(size, StrataError)
        ]
        for size in found:
            if isinstance(size, BaseException) and not isinstance(size, StrataError | _NoCopy):
                raise size
        down = sorted(
            set(self._datanodes.members_for_location(node.location))
            - {peer.node_id for peer in peers}
            - {node.node_id}
        )
        for source, size in holders:
            blob = BlobRef(location=node.location, blob_id=blob_id, size=size, replicas=[source.node_id])
            if not await self._data.copy_blob(blob, source.node_id, node.node_id):
                continue  # that source failed (its copy may be corrupt too, and is now quarantined)
            if await self._deleted_meanwhile([peer for peer, _ in holders], blob_id):
                await self._data.client_for(node.address).delete(blob_id)
                return ScrubStats(corrupt=1)
            log.info(
                "corrupt replica healed from a good copy",
                extra=log_fields(blob_id=blob_id, node_id=node.node_id, source=source.node_id, size=size),
            )
            return ScrubStats(corrupt=1, healed=1)
        if holders or unreachable or down:
            # A good copy may exist where it cannot be reached now.
            log.warning(
                "corrupt replica not healed yet; the next pass tries again",
                extra=log_fields(
                    blob_id=blob_id,
                    node_id=node.node_id,
                    unreachable=",".join(unreachable),
                    datanodes_down=",".join(down),
                ),
            )
            return ScrubStats(corrupt=1, heal_failed=1)
        log.error(
            "BLOB LOST: a corrupt replica has no good copy on any datanode of its location",
            extra=log_fields(blob_id=blob_id, node_id=node.node_id, location=node.location),
        )
        return ScrubStats(corrupt=1, unrecoverable=1)

    async def _size_on(self, peer: NodeInfo, blob_id: str) -> int:
        """The blob's size on ``peer``; raises _NoCopy if it has no (sound) copy."""
        size = await self._data.client_for(peer.address).head(blob_id)
        if size is None:
            raise _NoCopy(peer.node_id)
        return size

    async def _deleted_meanwhile(self, holders: list[NodeInfo], blob_id: str) -> bool:
        """True if any node that held the blob before the copy lost it meanwhile: a delete (GC) ran,
        and the healed copy would be an orphan. Every holder is asked, not only the copy's source:
        the collector deletes on all replicas at once, and the source's delete may be the last to
        land. (A delete that reaches the healed node while the copy streams removes the copy there:
        see datanode/servicer.py.)"""
        sizes = await asyncio.gather(
            *(self._data.client_for(holder.address).head(blob_id) for holder in holders),
            return_exceptions=True,
        )
        for size in sizes:
            if isinstance(size, BaseException) and not isinstance(size, StrataError):
                raise size
        return any(size is None for size in sizes)


def _count_pass(total: ScrubStats, unhealed_only: bool) -> None:
    metrics.SCRUB_BLOBS_HEALED.inc(total.healed)
    if unhealed_only:
        return
    metrics.SCRUB_PASSES.inc()
    metrics.SCRUB_BLOBS_CHECKED.inc(total.blobs_checked)
    metrics.SCRUB_BYTES_CHECKED.inc(total.bytes_checked)
    metrics.SCRUB_BLOBS_CORRUPT.set(total.corrupt - total.healed)
    metrics.SCRUB_BLOBS_UNRECOVERABLE.set(total.unrecoverable)
    metrics.SCRUB_LAST_PASS.set_to_current_time()


class _NoCopy(LookupError):
    pass


def add_scrub_arguments(parser: argparse.ArgumentParser) -> None:
    """The scrubber's settings, for the process that runs it."""
    parser.add_argument(
        "--scrub-rate",
        type=float,
        default=DEFAULT_RATE_MB_PER_S,
        help="MB/s each datanode reads to verify its blobs during a scrub (0: unbounded)",
    )
    parser.add_argument(
        "--scrub-interval",
        type=float,
        default=DEFAULT_INTERVAL_S,
        help="seconds between the end of one full scrub pass and the start of the next",
    )
    parser.add_argument(
        "--scrub-heal-interval",
        type=float,
        default=DEFAULT_HEAL_INTERVAL_S,
        help="seconds between quick passes that heal replicas quarantined meanwhile (by reads)",
    )


def scrubber_from_args(
    args: argparse.Namespace, datanodes: LiveDatanodes, data: ReplicatedDataClient
) -> Scrubber:
    return Scrubber(
        datanodes,
        data,
        rate_mb_per_s=args.scrub_rate,
        interval_s=args.scrub_interval,
        heal_interval_s=args.scrub_heal_interval,
    )
