"""Brings blobs short of their replication factor back to it (DESIGN 6, "Durability across nodes").

A commit that references a blob held by fewer replicas than it wants also writes a
repair-queue entry (``R<bucket-uid><key>\\0<upload-id>``) in the same batch. A repair
pass takes each entry, copies every short blob from a live replica to live datanodes
that lack it (outside any lock: copies can be large), then, under the object's lock,
adds the new replicas to every record that still references the blob and drops the
entry once nothing it covers is short. A blob that was overwritten or deleted while it
was copied is referenced by nothing any more: its new copies go to the GC queue.

The pass runs on the metanode (beside the garbage collector) because the update must
hold the object's lock in the metadata core; ``RunRepair`` starts one on demand.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from metanode import keys
from protos.common_pb2 import BlobRef, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import ObjectMD, PartInfo, RepairEntry
from strata.runtime.periodic import PeriodicTask

if TYPE_CHECKING:
    from metanode.core import MetadataCore

log = logging.getLogger("metanode.repair")


class BlobReplicator(Protocol):
    async def replicate(self, blob: BlobRef) -> list[str]:
        """Copies ``blob`` to live datanodes lacking it, up to its ``replicas_wanted``; returns their ids."""
        ...


@dataclass(frozen=True)
class RepairStats:
    blobs_repaired: int = 0
    entries_remaining: int = 0


def short_blobs(blobs: Iterable[BlobRef]) -> list[BlobRef]:
    """The blobs held by fewer replicas than their location's replication factor."""
    return [blob for blob in blobs if blob.replicas_wanted and len(blob.replicas) < blob.replicas_wanted]


Record = ObjectMD | PartInfo


def _blobs_of(record: Record) -> list[BlobRef]:
    return list(record.blobs) if isinstance(record, ObjectMD) else [record.blob]


class RepairQueue:
    """The metadata side of repair: reading and settling queue entries under the objects' locks."""

    def __init__(self, core: MetadataCore) -> None:
        self._core = core

    async def entries(self) -> list[tuple[bytes, RepairEntry]]:
        return await self._core._off_loop(self._scan_entries)

    def _scan_entries(self) -> list[tuple[bytes, RepairEntry]]:
        iterator = self._core.kv.iterate(keys.REPAIR_PREFIX, keys.prefix_end(keys.REPAIR_PREFIX))
        try:
            return [(raw_key, keys.decode_repair_entry(raw)) for raw_key, raw in iterator]
        finally:
            iterator.close()

    def _records(self, bucket_uid: str, entry: RepairEntry) -> list[tuple[bytes, Record]]:
        """Every record that may reference the entry's blobs: the object's master and versions, and
        the upload's parts (a part's blob moves into the object when the upload completes)."""
        kv = self._core.kv
        found: list[tuple[bytes, Record]] = []
        if entry.upload_id:
            prefix = keys.parts_prefix(entry.upload_id)
            iterator = kv.iterate(prefix, keys.prefix_end(prefix))
            try:
                found.extend((raw_key, keys.decode_part(raw)) for raw_key, raw in iterator)
            finally:
                iterator.close()
        master_key = keys.master_key(bucket_uid, entry.key)
        master = kv.get(master_key)
        if master is not None:
            found.append((master_key, keys.decode_object(master)))
        prefix = keys.versions_prefix(bucket_uid, entry.key)
        iterator = kv.iterate(prefix, keys.prefix_end(prefix))
        try:
            found.extend((raw_key, keys.decode_object(raw)) for raw_key, raw in iterator)
        finally:
            iterator.close()
        return found

    async def short_blobs(self, entry: RepairEntry) -> list[BlobRef]:
        """The distinct short blobs the entry still covers (none if its object or bucket is gone)."""
        try:
            async with self._core._object_scope(entry.bucket, entry.key) as bucket:
                records = await self._core._off_loop(self._records, bucket.uid, entry)
        except StrataError as error:
            if error.reason not in (ErrorReason.NO_SUCH_BUCKET, ErrorReason.INVALID_ARGUMENT):
                raise
            return []
        unique: dict[str, BlobRef] = {}
        for _, record in records:
            for blob in short_blobs(_blobs_of(record)):
                unique.setdefault(blob.blob_id, blob)
        return list(unique.values())

    async def settle(self, raw_key: bytes, entry: RepairEntry, copied: dict[str, BlobRef]) -> bool:
        """Records the new replicas in ``copied`` (blob id -> blob with its new replicas only) in
        every record still referencing them; True once the entry is done (and removed)."""
        try:
            async with self._core._object_scope(entry.bucket, entry.key) as bucket:
                return await self._settle_locked(bucket.uid, raw_key, entry, copied)
        except StrataError as error:
            if error.reason not in (ErrorReason.NO_SUCH_BUCKET, ErrorReason.INVALID_ARGUMENT):
                raise
        # The bucket is gone: nothing references the copies.
        puts = []
        gc_put = self._core._gc_put(copied.values())
        if gc_put is not None:
            puts.append(gc_put)
        await self._core.writer.submit(puts, [raw_key])
        return True

    async def _settle_locked(
        self, bucket_uid: str, raw_key: bytes, entry: RepairEntry, copied: dict[str, BlobRef]
    ) -> bool:
        records = await self._core._off_loop(self._records, bucket_uid, entry)
        referenced: set[str] = set()
        puts: list[tuple[bytes, bytes]] = []
        still_short = False
        for record_key, record in records:
            changed = False
            for blob in _blobs_of(record):
                new = copied.get(blob.blob_id)
                if new is not None:
                    referenced.add(blob.blob_id)
                    additions = [node for node in new.replicas if node not in blob.replicas]
                    if additions:
                        blob.replicas.extend(additions)
                        changed = True
                if short_blobs([blob]):
                    still_short = True
            if changed:
                puts.append((record_key, keys.encode_record(record)))
        # Copies of blobs overwritten or deleted meanwhile belong to nobody: collect them.
        gc_put = self._core._gc_put(blob for blob_id, blob in copied.items() if blob_id not in referenced)
        if gc_put is not None:
            puts.append(gc_put)
        deletes = [] if still_short else [raw_key]
        if puts or deletes:
            await self._core.writer.submit(puts, deletes)
        return not still_short


class Repairer:
    """Runs repair passes: on demand (``run_once``) and every ``interval_s`` once started."""

    def __init__(self, core: MetadataCore, replicator: BlobReplicator, interval_s: float = 30.0) -> None:
        self._queue = RepairQueue(core)
        self._replicator = replicator
        self.interval_s = interval_s
        self._lock = asyncio.Lock()
        self._periodic = PeriodicTask("repair", self._logged_pass, lambda: self.interval_s, log)

    async def run_once(self) -> RepairStats:
        async with self._lock:
            repaired = 0
            for raw_key, entry in await self._queue.entries():
                copied: dict[str, BlobRef] = {}
                for blob in await self._queue.short_blobs(entry):
                    try:
                        new_nodes = await self._replicator.replicate(blob)
                    except StrataError as error:
                        log.warning("cannot repair blob %s yet: %s", blob.blob_id, error.message)
                        continue
                    if new_nodes:
                        copied[blob.blob_id] = BlobRef(
                            location=blob.location, blob_id=blob.blob_id, size=blob.size, replicas=new_nodes
                        )
                        if len(blob.replicas) + len(new_nodes) >= blob.replicas_wanted:
                            repaired += 1
                await self._queue.settle(raw_key, entry, copied)
            remaining = len(await self._queue.entries())
        return RepairStats(blobs_repaired=repaired, entries_remaining=remaining)

    def start(self) -> None:
        """Runs a pass every ``interval_s`` in the background until :meth:`stop`."""
        self._periodic.start()

    async def _logged_pass(self) -> None:
        stats = await self.run_once()
        if stats.blobs_repaired:
            log.info(
                "repair pass: %d blobs repaired, %d entries left",
                stats.blobs_repaired,
                stats.entries_remaining,
            )

    async def stop(self) -> None:
        await self._periodic.stop()
