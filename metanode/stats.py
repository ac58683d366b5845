"""Per-bucket figures for operators (``GetBucketStats``): objects, versions and bytes stored.

The figures are computed by one scan of the leader's store when asked, not kept as counters.
Counters updated by every commit would put a read-modify-write of a shared key into each write
batch (PUT, DELETE, version changes, multipart completion, repair and GC all change them) and
would have to be proved right after every replay and snapshot install; a miscount would persist.
A scan is always exact, costs nothing on the write path, and at the store's ~2M keys/s answers
in well under a second for a million versions, which suits a command an operator runs by hand.

Each scan reads from one fresh RocksDB iterator per key range, so every range is a consistent
view; the ranges are read one after the other, not as one snapshot (a write racing the scan may
be counted in one figure and not yet in the next). It runs off the event loop.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from metanode import keys
from metanode.kv import KV
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import BucketStats, BucketStatsRequest, BucketStatsResponse, ObjectMD

if TYPE_CHECKING:
    from metanode.core import MetadataCore


@dataclass
class _Tally:
    stats: BucketStats
    versions_seen: set[tuple[bytes, str]] = field(default_factory=set)
    blobs_seen: set[str] = field(default_factory=set)

    def add_data(self, record: ObjectMD) -> None:
        for blob in record.blobs:
            if blob.blob_id not in self.blobs_seen:
                self.blobs_seen.add(blob.blob_id)
                self.stats.stored_bytes += blob.size

    def add_version(self, object_key: bytes, record: ObjectMD) -> None:
        """Counts a version once, whether it is read as the master, as a version record, or both."""
        identity = (object_key, record.version_id)
        if identity in self.versions_seen:
            return
        self.versions_seen.add(identity)
        self.stats.versions += 1
        if record.is_delete_marker:
            self.stats.delete_markers += 1
        self.stats.stored_bytes += len(record.inline_data)
        self.add_data(record)


def _items(kv: KV, prefix: bytes) -> Iterator[tuple[bytes, bytes]]:
    iterator = kv.iterate(prefix, keys.prefix_end(prefix))
    try:
        yield from iterator
    finally:
        iterator.close()


def scan_bucket_stats(kv: KV, only_bucket: str = "") -> list[BucketStats]:
    """The figures of every bucket of the store (or of ``only_bucket``), in name order (blocking)."""
    tallies: dict[str, _Tally] = {}
    bucket_prefix = keys.bucket_key(only_bucket) if only_bucket else keys.BUCKET_PREFIX
    for raw_key, raw in _items(kv, bucket_prefix):
        name = keys.bucket_name_from_key(raw_key)
        if only_bucket and name != only_bucket:
            continue  # another bucket whose name starts with this one
        tallies[keys.decode_bucket(raw).uid] = _Tally(BucketStats(bucket=name))
    uid_start = len(keys.OBJECT_PREFIX)
    key_start = uid_start + keys.BUCKET_UID_LENGTH
    for uid, tally in tallies.items():
        for raw_key, raw in _items(kv, keys.object_prefix(uid)):
            record = keys.decode_object(raw)
            object_key, separator, _ = raw_key[key_start:].partition(keys.VERSION_SEPARATOR_BYTES)
            is_master = not separator
            if is_master and not record.is_delete_marker and not record.is_phd:
                tally.stats.objects += 1
                tally.stats.bytes += record.size
            if not record.is_phd:
                tally.add_version(object_key, record)
        uploads = []
        for _, raw in _items(kv, keys.upload_prefix(uid)):
            tally.stats.uploads += 1
            uploads.append(keys.decode_upload(raw).upload_id)
        for upload_id in uploads:
            for _, raw in _items(kv, keys.parts_prefix(upload_id)):
                part = keys.decode_part(raw)
                if part.blob.blob_id not in tally.blobs_seen:
                    tally.blobs_seen.add(part.blob.blob_id)
                    tally.stats.stored_bytes += part.blob.size
    return sorted((tally.stats for tally in tallies.values()), key=lambda stats: stats.bucket)


async def bucket_stats(core: MetadataCore, request: BucketStatsRequest) -> BucketStatsResponse:
    """``GetBucketStats``: NO_SUCH_BUCKET when a named bucket is not on this shard."""
    found = await core._off_loop(scan_bucket_stats, core.kv, request.bucket)
    if request.bucket and not found:
        raise StrataError(ErrorReason.NO_SUCH_BUCKET, f"no bucket {request.bucket!r} on this shard")
    return BucketStatsResponse(buckets=found)
