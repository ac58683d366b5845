"""Finds every record whose blobs have a replica on a lost datanode (one written off by the coordinator).

A datanode gone longer than the coordinator's grace period will not bring its copies back,
so each blob it held is short by one, whatever its BlobRef says. The commit-time repair queue
cannot know that: the scan reads every object version (masters included) and every part of
every upload in progress, and names the repair entry that covers each hit: ``(bucket, key)``
for an object's versions, ``(bucket, key, upload_id)`` for an upload's parts. The repair pass
then treats the lost replicas as missing, copies, and drops them from the records.

The scan is a plain read of the store (run it off the event loop); it takes no lock because it
only *proposes* entries: every decision is made again under the object's lock when the entry
is settled.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from metanode import keys
from metanode.kv import KV
from protos.common_pb2 import BlobRef
from protos.metadata_pb2 import RepairEntry


def lists_lost_replica(blob: BlobRef, lost: frozenset[str]) -> bool:
    """A replicated blob (one with a replication factor) with a replica on a lost node."""
    return bool(blob.replicas_wanted) and any(node in lost for node in blob.replicas)


@dataclass
class LostReplicaScan:
    """What one scan found: the entries to queue, and how many blobs it looked at."""

    entries: dict[bytes, RepairEntry] = field(default_factory=dict)
    blobs_scanned: int = 0
    blobs_on_lost_nodes: int = 0

    def _add(self, raw_key: bytes, bucket: str, key: str, upload_id: str, location: str) -> None:
        entry = self.entries.get(raw_key)
        if entry is None:
            entry = self.entries[raw_key] = RepairEntry(bucket=bucket, key=key, upload_id=upload_id)
        if location not in entry.locations:
            entry.locations.append(location)
            entry.locations.sort()


def _items(kv: KV, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
    iterator = kv.iterate(prefix, keys.prefix_end(prefix))
    try:
        yield from iterator
    finally:
        iterator.close()


def _bucket_names(kv: KV) -> dict[str, str]:
    """Bucket uid -> bucket name."""
    return {
        keys.decode_bucket(raw).uid: keys.bucket_name_from_key(raw_key)
        for raw_key, raw in _items(kv, keys.BUCKET_PREFIX)
    }


def _uploads(kv: KV, bucket_names: dict[str, str]) -> dict[str, tuple[str, str, str]]:
    """Upload id -> (bucket uid, bucket name, object key) of every upload in progress."""
    found: dict[str, tuple[str, str, str]] = {}
    uid_start = len(keys.UPLOAD_PREFIX)
    for raw_key, raw in _items(kv, keys.UPLOAD_PREFIX):
        uid = raw_key[uid_start : uid_start + keys.BUCKET_UID_LENGTH].decode()
        name = bucket_names.get(uid)
        if name is not None:
            upload = keys.decode_upload(raw)
            found[upload.upload_id] = (uid, name, upload.key)
    return found


def scan_lost_replicas(kv: KV, lost: Iterable[str]) -> LostReplicaScan:
    """The repair entries covering every blob with a replica on a node in ``lost`` (blocking)."""
    lost_nodes = frozenset(lost)
    scan = LostReplicaScan()
    if not lost_nodes:
        return scan
    bucket_names = _bucket_names(kv)
    uid_start = len(keys.OBJECT_PREFIX)
    for raw_key, raw in _items(kv, keys.OBJECT_PREFIX):
        uid = raw_key[uid_start : uid_start + keys.BUCKET_UID_LENGTH].decode()
        name = bucket_names.get(uid)
        record = keys.decode_object(raw)
        scan.blobs_scanned += len(record.blobs)
        if name is None:
            continue  # a bucket being deleted: nothing will read these any more
        # The key is in the record key (before the version separator); records need not repeat it.
        object_key = (
            raw_key[uid_start + keys.BUCKET_UID_LENGTH :].split(keys.VERSION_SEPARATOR_BYTES)[0].decode()
        )
        for blob in record.blobs:
            if lists_lost_replica(blob, lost_nodes):
                scan.blobs_on_lost_nodes += 1
                scan._add(keys.repair_key(uid, object_key, ""), name, object_key, "", blob.location)
    uploads = _uploads(kv, bucket_names)
    upload_start = len(keys.PART_PREFIX)
    for raw_key, raw in _items(kv, keys.PART_PREFIX):
        upload_id = raw_key[upload_start : upload_start + keys.UPLOAD_ID_LENGTH].decode()
        part = keys.decode_part(raw)
        scan.blobs_scanned += 1
        owner = uploads.get(upload_id)
        if owner is None or not lists_lost_replica(part.blob, lost_nodes):
            continue
        uid, name, object_key = owner
        scan.blobs_on_lost_nodes += 1
        scan._add(
            keys.repair_key(uid, object_key, upload_id), name, object_key, upload_id, part.blob.location
        )
    return scan


def entries_to_queue(kv: KV, scan: LostReplicaScan, queued_ms: int) -> list[tuple[bytes, bytes]]:
    """The puts that add the scan's entries not queued yet (an existing entry already covers its records)."""
    puts = []
    for raw_key, entry in scan.entries.items():
        if kv.get(raw_key) is None:
            entry.queued_ms = queued_ms
            puts.append((raw_key, keys.encode_record(entry)))
    return puts
