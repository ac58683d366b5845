"""The elected coordinator's repair worker (DESIGN 6, "Durability across nodes").

Every ``interval_s`` it asks each shard's leader metanode for one repair pass (``RunRepair``):

- the pass tops up blobs written while a datanode was down (the metanode's repair queue), so
  they regain their replicas once nodes return;
- datanodes down for at least ``grace_s`` (see ``coordinator/down_nodes.py``) are named as
  *lost*: the pass copies every blob with a replica on one to other live nodes, chosen by
  rendezvous hashing over the live nodes like a write, and records the move in the blobs'
  metadata (the lost replica leaves the BlobRef, the new ones join it).

The copies and the metadata updates happen on the metanodes, under their object locks; this
worker only decides when and which nodes are lost. Two coordinators briefly both believing they
lead is harmless: a metanode runs one pass at a time, and a pass is idempotent.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from coordinator.down_nodes import DownNode, DownNodes
from coordinator.shard_leaders import ShardLeaders
from protos.errors import StrataError
from protos.metadata_pb2 import RunRepairRequest, RunRepairResponse
from strata.runtime import metrics
from strata.runtime.periodic import PeriodicTask

log = logging.getLogger(__name__)

DEFAULT_INTERVAL_S = 30.0
DEFAULT_GRACE_S = 600.0


@dataclass
class RepairRound:
    """One round over every shard."""

    lost_nodes: list[str] = field(default_factory=list)
    responses: dict[str, RunRepairResponse] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)

    @property
    def evacuated(self) -> bool:
        """Every shard answered, and none has a blob left on a lost node."""
        return not self.failures and all(r.lost_blobs_remaining == 0 for r in self.responses.values())


async def repair_every_shard(shards: ShardLeaders, lost_nodes: Sequence[str]) -> RepairRound:
    """One repair pass on each shard's leader, all shards at once."""
    round_ = RepairRound(lost_nodes=list(lost_nodes))
    request = RunRepairRequest(lost_nodes=lost_nodes)
    shard_ids = shards.shard_ids()
    outcomes = await asyncio.gather(
        *(shards.call(shard_id, lambda client: client.run_repair(request)) for shard_id in shard_ids),
        return_exceptions=True,
    )
    for shard_id, outcome in zip(shard_ids, outcomes, strict=True):
        if isinstance(outcome, StrataError):
            round_.failures[shard_id] = outcome.message
        elif isinstance(outcome, BaseException):
            raise outcome
        else:
            round_.responses[shard_id] = outcome
    return round_


class RepairWorker:
    """Runs :func:`repair_every_shard` every ``interval_s`` while started (start/stop per leadership)."""

    def __init__(
        self,
        shards: ShardLeaders,
        down_nodes: DownNodes,
        interval_s: float = DEFAULT_INTERVAL_S,
        grace_s: float = DEFAULT_GRACE_S,
    ) -> None:
        self._shards = shards
        self._down_nodes = down_nodes
        self.interval_s = interval_s
        self.grace_s = grace_s
        self._periodic = PeriodicTask("coordinator-repair", self._round, lambda: self.interval_s, log)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def _round(self) -> None:
        try:
            await self.run_once()
        except StrataError as error:
            # etcd or every metanode unreachable for a moment: the next round tries again.
            log.warning("repair round failed: %s", error.message)

    async def run_once(self) -> RepairRound:
        down = await self._down_nodes.refresh()
        lost = self._down_nodes.lost(down.values(), self.grace_s)
        if lost:
            log.info(
                "re-replicating blobs off datanodes down longer than %.0fs: %s", self.grace_s, ", ".join(lost)
            )
        round_ = await repair_every_shard(self._shards, lost)
        for shard_id, message in round_.failures.items():
            log.warning("repair pass on shard %s failed: %s", shard_id, message)
        self._log_round(round_)
        _count_round(round_)
        if lost and round_.evacuated:
            evacuated: list[DownNode] = [down[node_id] for node_id in lost]
            await self._down_nodes.mark_evacuated(evacuated)
            log.info("no blob is left on lost datanodes %s", ", ".join(lost))
        return round_

    @staticmethod
    def _log_round(round_: RepairRound) -> None:
        for shard_id, response in round_.responses.items():
            # A blob that cannot be repaired yet is checked every round: say so only at debug level.
            if response.blobs_checked:
                level = logging.INFO if response.blobs_copied or round_.lost_nodes else logging.DEBUG
                log.log(
                    level,
                    "repair pass on shard %s: %d blobs checked, %d copied, %d still short (%d on lost nodes)",
                    shard_id,
                    response.blobs_checked,
                    response.blobs_copied,
                    response.blobs_remaining,
                    response.lost_blobs_remaining,
                )


def _count_round(round_: RepairRound) -> None:
    metrics.REPAIR_ROUNDS.labels("failed" if round_.failures else "ok").inc()
    for shard_id, response in round_.responses.items():
        metrics.REPAIR_BLOBS_COPIED.labels(shard_id).inc(response.blobs_copied)
        metrics.REPAIR_BLOBS_REMAINING.labels(shard_id).set(response.blobs_remaining)
    metrics.REPAIR_LAST_ROUND.set_to_current_time()
