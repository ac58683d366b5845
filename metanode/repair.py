"""Brings blobs short of their replication factor back to it (DESIGN 6, "Durability across nodes").

A commit that references a blob held by fewer replicas than it wants also writes a
repair-queue entry (``R<bucket-uid><key>\\0<upload-id>``) in the same batch. A repair
pass takes each entry, copies every short blob from a live replica to live datanodes
that lack it (outside any lock: copies can be large), then, under the object's lock,
adds the new replicas to every record that still references the blob and drops the
entry once nothing it covers is short. A blob that was overwritten or deleted while it
was copied is referenced by nothing any more: its new copies go to the GC queue.

Copies are protected like uploads: before anything is written to a target, the pass
records an intent naming the blob on that target only (``replicas`` scopes the GC's
delete, so the healthy replicas are never touched). Settling closes the intent in the
same batch that records the replicas, queueing every copy it did not record. A pass that
fails or is cancelled before that closes the intent at once (its copies go to the GC
queue); after a crash, the intent expires into the queue.
A copy the GC may still delete (an open intent or a queued entry names it) is never made
again until it is gone, so a later pass cannot record a replica that is being deleted.

A pass may also name *lost* datanodes (gone longer than the coordinator's grace period; see
``coordinator/repair.py``). Their replicas count as missing: the pass first queues an entry for
every record with a blob on one (``metanode/repair_scan.py``), copies each such blob from its
other replicas to live nodes, and once the blob has its replication factor on nodes that are not
lost, drops the lost replicas from its BlobRef. Until then they stay listed, so a node that comes
back after all is still read from. The stale copy left on a lost node is referenced by nothing.

The pass runs on the metanode (beside the garbage collector) because the update must
hold the object's lock in the metadata core; ``RunRepair`` starts one. The elected coordinator
asks every shard leader for one every few seconds; the metanode schedules none itself.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Collection, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import TYPE_CHECKING, Protocol

from metanode import keys
from metanode.repair_scan import entries_to_queue, lists_lost_replica, scan_lost_replicas
from protos.common_pb2 import BlobRef, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import AbortIntentRequest, Intent, ObjectMD, PartInfo, RepairEntry, RepairProgress

if TYPE_CHECKING:
    from metanode.core import MetadataCore

log = logging.getLogger("metanode.repair")


class BlobReplicator(Protocol):
    async def replicate(
        self,
        blob: BlobRef,
        *,
        exclude: Collection[str] = (),
        before_copy: Callable[[str], Awaitable[None]] | None = None,
    ) -> list[str]:
        """Copies ``blob`` to live datanodes lacking it (none in ``exclude``), up to its
        ``replicas_wanted``, awaiting ``before_copy(node_id)`` before each; returns their ids."""
        ...

    def copy_deadline(self, size: int) -> float:
        """Seconds one copy of a ``size``-byte blob may take."""
        ...


@dataclass(frozen=True)
class RepairStats:
    blobs_repaired: int = 0
    entries_remaining: int = 0
    blobs_checked: int = 0
    blobs_copied: int = 0
    blobs_remaining: int = 0
    lost_blobs_remaining: int = 0


NO_LOST_NODES: frozenset[str] = frozenset()


def good_replicas(blob: BlobRef, lost: frozenset[str] = NO_LOST_NODES) -> list[str]:
    return [node for node in blob.replicas if node not in lost]


def needs_repair(blob: BlobRef, lost: frozenset[str] = NO_LOST_NODES) -> bool:
    """Short of its replication factor on nodes not lost, or still listing a lost node."""
    if not blob.replicas_wanted:
        return False
    return len(good_replicas(blob, lost)) < blob.replicas_wanted or lists_lost_replica(blob, lost)


def short_blobs(blobs: Iterable[BlobRef], lost: frozenset[str] = NO_LOST_NODES) -> list[BlobRef]:
    """The blobs held by fewer replicas than their location's replication factor (``lost`` replicas
    not counted), or whose lost replicas are still listed."""
    return [blob for blob in blobs if needs_repair(blob, lost)]


def drop_lost_replicas(blob: BlobRef, lost: frozenset[str]) -> bool:
    """Removes the lost replicas from ``blob`` once the others make up its replication factor."""
    good = good_replicas(blob, lost)
    # Never the last replicas, nor those of a blob with no replication factor to be whole at.
    if (
        not blob.replicas_wanted
        or not good
        or len(good) == len(blob.replicas)
        or len(good) < blob.replicas_wanted
    ):
        return False
    del blob.replicas[:]
    blob.replicas.extend(good)
    return True


Record = ObjectMD | PartInfo


def _blobs_of(record: Record) -> list[BlobRef]:
    return list(record.blobs) if isinstance(record, ObjectMD) else [record.blob]


@dataclass
class Claims:
    """Copies the GC may still delete: blob id -> the nodes named (``None``: every node)."""

    nodes: dict[str, set[str] | None] = field(default_factory=dict)

    def add(self, blob: BlobRef) -> None:
        known = self.nodes.get(blob.blob_id, set())
        if known is None or not blob.replicas:
            self.nodes[blob.blob_id] = None
        else:
            known.update(blob.replicas)
            self.nodes[blob.blob_id] = known

    def of(self, blob_id: str) -> set[str] | None:
        return self.nodes.get(blob_id, set())


def _pairs(blobs: Iterable[BlobRef]) -> set[tuple[str, str]]:
    return {(blob.blob_id, node) for blob in blobs for node in blob.replicas}


class RepairQueue:
    """The metadata side of repair: reading and settling queue entries under the objects' locks."""

    def __init__(self, core: MetadataCore) -> None:
        self._core = core

    @property
    def intent_ttl_ms(self) -> int:
        return self._core.intent_ttl_ms

    async def entries(self) -> list[tuple[bytes, RepairEntry]]:
        return await self._core._off_loop(self._scan_entries)

    def _scan_entries(self) -> list[tuple[bytes, RepairEntry]]:
        iterator = self._core.kv.iterate(keys.REPAIR_PREFIX, keys.prefix_end(keys.REPAIR_PREFIX))
        try:
            return [(raw_key, keys.decode_repair_entry(raw)) for raw_key, raw in iterator]
        finally:
            iterator.close()

    async def claims(self) -> Claims:
        """The copies named by open intents or queued for GC (intents first: one that expires
        meanwhile moves to the queue, which is read after)."""
        return await self._core._off_loop(self._scan_claims)

    def _scan_claims(self) -> Claims:
        claims = Claims()
        kv = self._core.kv
        for prefix, decode in (
            (keys.INTENT_PREFIX, keys.decode_intent),
            (keys.GC_PREFIX, keys.decode_gc_entry),
        ):
            iterator = kv.iterate(prefix, keys.prefix_end(prefix))
            try:
                for _, raw in iterator:
                    for blob in decode(raw).blobs:
                        claims.add(blob)
            finally:
                iterator.close()
        return claims

    async def protect(
        self, entry: RepairEntry, intent_id: str | None, blob: BlobRef, node_id: str, ttl_ms: int
    ) -> str:
        """Adds the copy of ``blob`` on ``node_id`` to the pass's intent for ``entry`` (created on the
        first copy) and moves its deadline to ``ttl_ms`` from now; returns the intent's id.

        Raises NO_SUCH_INTENT if the intent expired meanwhile: its copies are being collected.
        """
        core = self._core
        async with core._object_scope(entry.bucket, entry.key):
            if intent_id is None:
                intent = Intent(
                    id=keys.new_intent_id(),
                    bucket=entry.bucket,
                    key=entry.key,
                    start_order=core._next_start_order(),
                )
            else:
                found = await core._get_record(keys.intent_key(intent_id), keys.decode_intent)
                if found is None:
                    raise StrataError(
                        ErrorReason.NO_SUCH_INTENT, f"repair intent {intent_id} expired while copying"
                    )
                intent = found
            intent.blobs.append(
                BlobRef(location=blob.location, blob_id=blob.blob_id, size=blob.size, replicas=[node_id])
            )
            intent.expires_ms = max(intent.expires_ms, core.now_ms() + ttl_ms)
            await core.writer.submit([(keys.intent_key(intent.id), keys.encode_record(intent))])
            return intent.id

    async def abandon(self, intent_id: str) -> None:
        """Closes a failed pass's intent: its copies go to the GC queue (if it fails too, they go
        when the intent expires)."""
        try:
            await self._core.abort_intent(AbortIntentRequest(intent_id=intent_id))
        except Exception as error:
            log.warning("could not close repair intent %s; it will expire: %s", intent_id, error)

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

    async def queue_lost(self, lost: frozenset[str]) -> int:
        """Queues an entry for every record with a blob on a lost node; returns how many blobs are."""
        core = self._core
        scan = await core._off_loop(scan_lost_replicas, core.kv, lost)
        puts = await core._off_loop(entries_to_queue, core.kv, scan, core.now_ms())
        for start in range(0, len(puts), 1000):
            await core.writer.submit(puts[start : start + 1000])
        return scan.blobs_on_lost_nodes

    async def short_blobs(self, entry: RepairEntry, lost: frozenset[str] = NO_LOST_NODES) -> list[BlobRef]:
        """The distinct blobs needing repair the entry still covers (none if its object or bucket is gone)."""
        try:
            async with self._core._object_scope(entry.bucket, entry.key) as bucket:
                records = await self._core._off_loop(self._records, bucket.uid, entry)
        except StrataError as error:
            if error.reason not in (ErrorReason.NO_SUCH_BUCKET, ErrorReason.INVALID_ARGUMENT):
                raise
            return []
        unique: dict[str, BlobRef] = {}
        for _, record in records:
            for blob in short_blobs(_blobs_of(record), lost):
                unique.setdefault(blob.blob_id, blob)
        return list(unique.values())

    async def settle(
        self,
        raw_key: bytes,
        entry: RepairEntry,
        copied: dict[str, BlobRef],
        intent_id: str | None = None,
        lost: frozenset[str] = NO_LOST_NODES,
    ) -> bool:
        """Records the new replicas in ``copied`` (blob id -> blob with its new replicas only) in
        every record still referencing them, drops the ``lost`` replicas of blobs whole without
        them, and closes the pass's intent ``intent_id`` (which names every copy attempted),
        queueing the copies not recorded; True once the entry is done (and removed)."""
        try:
            async with self._core._object_scope(entry.bucket, entry.key) as bucket:
                return await self._settle_locked(bucket.uid, raw_key, entry, copied, intent_id, lost)
        except StrataError as error:
            if error.reason not in (ErrorReason.NO_SUCH_BUCKET, ErrorReason.INVALID_ARGUMENT):
                raise
        # The bucket is gone: nothing references the copies.
        intent = await self._intent(intent_id)
        puts = []
        gc_put = self._core._gc_put(intent.blobs if intent is not None else ())
        if gc_put is not None:
            puts.append(gc_put)
        deletes = [raw_key] if intent is None else [raw_key, keys.intent_key(intent.id)]
        await self._core.writer.submit(puts, deletes)
        return True

    async def _intent(self, intent_id: str | None) -> Intent | None:
        if intent_id is None:
            return None
        return await self._core._get_record(keys.intent_key(intent_id), keys.decode_intent)

    async def _settle_locked(
        self,
        bucket_uid: str,
        raw_key: bytes,
        entry: RepairEntry,
        copied: dict[str, BlobRef],
        intent_id: str | None,
        lost: frozenset[str],
    ) -> bool:
        intent = await self._intent(intent_id)
        if intent_id is not None and intent is None:
            # The intent expired: its copies are queued for deletion, so none may be recorded.
            return False
        records = await self._core._off_loop(self._records, bucket_uid, entry)
        puts: list[tuple[bytes, bytes]] = []
        still_short = False
        for record_key, record in records:
            changed = False
            for blob in _blobs_of(record):
                new = copied.get(blob.blob_id)
                if new is not None:
                    additions = [node for node in new.replicas if node not in blob.replicas]
                    if additions:
                        blob.replicas.extend(additions)
                        changed = True
                if lost and drop_lost_replicas(blob, lost):
                    changed = True
                if needs_repair(blob, lost):
                    still_short = True
            if changed:
                puts.append((record_key, keys.encode_record(record)))
        # Copies not recorded (failed, or of blobs overwritten or deleted meanwhile) belong to
        # nobody: collect them, never a copy some record names.
        recorded = _pairs(blob for _, record in records for blob in _blobs_of(record))
        unrecorded = [
            BlobRef(location=blob.location, blob_id=blob.blob_id, size=blob.size, replicas=[node])
            for blob in (intent.blobs if intent is not None else ())
            for node in blob.replicas
            if (blob.blob_id, node) not in recorded
        ]
        gc_put = self._core._gc_put(unrecorded)
        if gc_put is not None:
            puts.append(gc_put)
        deletes = [] if still_short else [raw_key]
        if intent_id is not None:
            deletes.append(keys.intent_key(intent_id))
        if puts or deletes:
            await self._core.writer.submit(puts, deletes)
        return not still_short


class Repairer:
    """Runs repair passes on demand (``run_once``), one at a time; ``progress`` describes the
    running (or the last) pass."""

    def __init__(self, core: MetadataCore, replicator: BlobReplicator) -> None:
        self._queue = RepairQueue(core)
        self._replicator = replicator
        self._lock = asyncio.Lock()
        self._background: set[asyncio.Future[None]] = set()
        self.progress = RepairProgress()

    async def run_once(self, lost_nodes: Collection[str] = ()) -> RepairStats:
        """One pass over the queue; ``lost_nodes``' replicas count as missing (see the module doc)."""
        lost = frozenset(lost_nodes)
        async with self._lock:
            progress = self.progress = RepairProgress(running=True)
            try:
                if lost:
                    await self._queue.queue_lost(lost)
                entries = await self._queue.entries()
                for _, entry in entries:
                    progress.blobs_total += len(await self._queue.short_blobs(entry, lost))
                claims = await self._queue.claims()
                for raw_key, entry in entries:
                    await self._repair_entry(raw_key, entry, claims, lost, progress)
                return await self._remaining(lost, progress)
            finally:
                progress.running = False

    async def _remaining(self, lost: frozenset[str], progress: RepairProgress) -> RepairStats:
        entries = await self._queue.entries()
        blobs_remaining = lost_remaining = 0
        for _, entry in entries:
            blobs = await self._queue.short_blobs(entry, lost)
            blobs_remaining += len(blobs)
            lost_remaining += sum(1 for blob in blobs if lists_lost_replica(blob, lost))
        return RepairStats(
            blobs_repaired=progress.blobs_repaired,
            entries_remaining=len(entries),
            blobs_checked=progress.blobs_checked,
            blobs_copied=progress.blobs_copied,
            blobs_remaining=blobs_remaining,
            lost_blobs_remaining=lost_remaining,
        )

    async def _repair_entry(
        self,
        raw_key: bytes,
        entry: RepairEntry,
        claims: Claims,
        lost: frozenset[str],
        progress: RepairProgress,
    ) -> None:
        """Copies the entry's short blobs and settles it, counting in ``progress``."""
        pass_intent = _PassIntent(self._queue, entry, self._replicator, claims)
        try:
            await self._copy_and_settle(raw_key, entry, claims, pass_intent, lost, progress)
        except BaseException as error:
            if pass_intent.intent_id is not None:
                self._abandon(pass_intent.intent_id)
                if not isinstance(error, asyncio.CancelledError):
                    await self._abandoning()
            raise

    async def _copy_and_settle(
        self,
        raw_key: bytes,
        entry: RepairEntry,
        claims: Claims,
        pass_intent: _PassIntent,
        lost: frozenset[str],
        progress: RepairProgress,
    ) -> None:
        copied: dict[str, BlobRef] = {}
        for blob in await self._queue.short_blobs(entry, lost):
            progress.blobs_checked += 1
            claimed = claims.of(blob.blob_id)
            if claimed is None:
                continue  # being deleted everywhere
            # Copy as if the lost replicas were gone: from the others, up to the replication factor.
            held = BlobRef()
            held.CopyFrom(blob)
            del held.replicas[:]
            held.replicas.extend(good_replicas(blob, lost))
            try:
                new_nodes = await self._replicator.replicate(
                    held, exclude=claimed | lost, before_copy=partial(pass_intent.protect, blob)
                )
            except StrataError as error:
                log.warning("cannot repair blob %s yet: %s", blob.blob_id, error.message)
                if error.reason == ErrorReason.NO_SUCH_INTENT:
                    break
                continue
            if new_nodes:
                progress.blobs_copied += 1
                copied[blob.blob_id] = BlobRef(
                    location=blob.location, blob_id=blob.blob_id, size=blob.size, replicas=new_nodes
                )
            if len(held.replicas) + len(new_nodes) >= blob.replicas_wanted:
                progress.blobs_repaired += 1
        await self._queue.settle(raw_key, entry, copied, pass_intent.intent_id, lost)

    def _abandon(self, intent_id: str) -> None:
        """Starts closing a failed pass's intent, so its copies go to the GC queue without waiting
        for it to expire (a cancelled pass leaves that to the background)."""
        task = asyncio.ensure_future(self._queue.abandon(intent_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _abandoning(self) -> None:
        await asyncio.gather(*self._background, return_exceptions=True)

    async def close(self) -> None:
        """Waits for the intents of failed passes to be closed."""
        await self._abandoning()


class _PassIntent:
    """The intent protecting one entry's copies in a pass: created with the first copy."""

    def __init__(
        self, queue: RepairQueue, entry: RepairEntry, replicator: BlobReplicator, claims: Claims
    ) -> None:
        self._queue = queue
        self._entry = entry
        self._replicator = replicator
        self._claims = claims
        self.intent_id: str | None = None

    async def protect(self, blob: BlobRef, node_id: str) -> None:
        # Outlive the copy by the normal intent lifetime, so it never expires while data moves.
        ttl_ms = self._queue.intent_ttl_ms + int(self._replicator.copy_deadline(blob.size) * 1000)
        self.intent_id = await self._queue.protect(self._entry, self.intent_id, blob, node_id, ttl_ms)
        # Another entry of this pass may cover the same blob: a copy that fails here is queued
        # for deletion when this entry settles, so it must not be made again for that one.
        self._claims.add(BlobRef(location=blob.location, blob_id=blob.blob_id, replicas=[node_id]))
