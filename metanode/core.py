"""The metadata node's domain core: buckets, objects, versions, listings, intents, GC queue.

``MetadataCore`` implements ``gateway.ports.MetadataPort`` structurally: embedded
mode hands it to the gateway as is, and the gRPC servicer delegates to it.
Every mutation reads what it needs under a per-object lock, becomes one log
entry, and goes through the ``BatchWriter``. Version ids cross this API in
their opaque external form; records store the internal form.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from typing import ParamSpec, TypeVar

from metanode import keys
from metanode.gc import BlobDeleter, GarbageCollector
from metanode.kv import KV
from metanode.listing import Delimiter, DelimiterMaster, DelimiterVersions, ListingMachine, run_listing
from metanode.locks import KeyedLocks, SharedExclusiveLock
from metanode.multipart import CommitExtras, Multipart
from metanode.repair import BlobReplicator, Repairer, RepairQueue, short_blobs
from metanode.versioning import ObjectMutation, plan_delete, plan_put, resolve_null_version
from metanode.writer import BatchWriter, CommitHook
from protos.common_pb2 import BlobRef, Empty, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    LISTING_DELIMITER,
    LISTING_DELIMITER_MASTER,
    LISTING_DELIMITER_VERSIONS,
    AbortIntentRequest,
    BucketInfo,
    BucketName,
    CreateBucketRequest,
    CreateIntentRequest,
    DeleteObjectRequest,
    DeleteObjectResponse,
    GcEntry,
    GcStatusResponse,
    GetObjectRequest,
    Intent,
    ListBucketsRequest,
    ListBucketsResponse,
    ListEntry,
    ListObjectsRequest,
    ListObjectsResponse,
    ObjectMD,
    PutObjectRequest,
    PutObjectResponse,
    QueueGarbageRequest,
    RenewIntentRequest,
    RepairEntry,
    RepairStatusResponse,
    RunGcRequest,
    RunGcResponse,
    RunRepairRequest,
    RunRepairResponse,
)

DEFAULT_INTENT_TTL_MS = 3_600_000
DEFAULT_GC_INTERVAL_S = 30.0
# The region of a bucket created without a location constraint (AWS's default region).
DEFAULT_BUCKET_LOCATION = "us-east-1"
T = TypeVar("T")
P = ParamSpec("P")
PreparePut = Callable[[BucketInfo, ObjectMD, "ObjectMD | None"], Awaitable[CommitExtras]]


def _error(reason: int, message: str = "") -> StrataError:
    return StrataError(reason, message)


def external_object(record: ObjectMD) -> ObjectMD:
    """A copy of ``record`` with its version ids in the form clients see (a null version's internal id
    is never shown: it is "null")."""
    if not record.version_id and not record.null_version_id:
        return record
    copy = ObjectMD()
    copy.CopyFrom(record)
    copy.version_id = keys.NULL_VERSION_ID if record.is_null else keys.encode_version_id(record.version_id)
    copy.null_version_id = keys.encode_version_id(record.null_version_id)
    return copy


class MetadataCore:
    """Construct where blocking is allowed (it reads its counters from ``kv``); see ``open_core``."""

    def __init__(
        self,
        kv: KV,
        replication_group_id: str = keys.DEFAULT_REPLICATION_GROUP_ID,
        *,
        intent_ttl_ms: int = DEFAULT_INTENT_TTL_MS,
        deleter: BlobDeleter | None = None,
        gc_interval_s: float = DEFAULT_GC_INTERVAL_S,
        sync: bool = True,
        clock_ms: Callable[[], int] | None = None,
        replication: CommitHook | None = None,
    ) -> None:
        if intent_ttl_ms <= 0:
            raise ValueError("intent_ttl_ms must be positive")
        self.kv = kv
        self.replication_group_id = replication_group_id
        self.intent_ttl_ms = intent_ttl_ms
        self.gc_interval_s = gc_interval_s
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        floor = keys.decode_text(kv.get(keys.VERSION_FLOOR_KEY))
        self._version_ids = keys.VersionIdGenerator(replication_group_id, floor, self._clock_ms)
        self.writer = BatchWriter(kv, sync=sync, replication=replication)
        self._gc_seq = self._last_gc_seq()
        self._last_start_order = 0
        self._object_locks = KeyedLocks()
        self._bucket_gates: dict[str, SharedExclusiveLock] = {}
        self._buckets: dict[str, BucketInfo] = {}
        self._deleter = deleter
        self._collector: GarbageCollector | None = None
        self._repairer: Repairer | None = None
        # One GC pass at a time, whoever starts it (background loop or run_gc).
        self.gc_lock = asyncio.Lock()
        self._multipart = Multipart(self)
        self.create_upload = self._multipart.create_upload
        self.get_upload = self._multipart.get_upload
        self.put_part = self._multipart.put_part
        self.list_parts = self._multipart.list_parts
        self.complete_upload = self._multipart.complete_upload
        self.abort_upload = self._multipart.abort_upload
        self.list_uploads = self._multipart.list_uploads

    def _last_gc_seq(self) -> int:
        last = 0
        iterator = self.kv.iterate(keys.GC_PREFIX, keys.prefix_end(keys.GC_PREFIX))
        try:
            for raw_key, _ in iterator:
                last = keys.gc_seq_from_key(raw_key)
        finally:
            iterator.close()
        return last

    def set_deleter(self, deleter: BlobDeleter | None) -> None:
        self._deleter = deleter
        self._collector = None

    def set_replicator(self, replicator: BlobReplicator | None) -> Repairer | None:
        """Enables repair passes (cluster mode; ``run_repair`` runs one); returns the repairer."""
        self._repairer = Repairer(self, replicator) if replicator is not None else None
        return self._repairer

    def now_ms(self) -> int:
        return self._clock_ms()

    async def close(self) -> None:
        await self.release()
        await asyncio.to_thread(self.kv.close)

    async def release(self) -> None:
        """Stops writing, leaving the store open (a shard leader stepping down keeps its replica)."""
        await self.writer.close()

    # ---- plumbing ----

    async def _off_loop(self, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
        return await asyncio.to_thread(fn, *args, **kwargs)

    async def _get_record(self, raw_key: bytes, decode: Callable[[bytes], T]) -> T | None:
        raw = await self._off_loop(self.kv.get, raw_key)
        return None if raw is None else decode(raw)

    def _gate(self, bucket_name: str) -> SharedExclusiveLock:
        gate = self._bucket_gates.get(bucket_name)
        if gate is None:
            gate = self._bucket_gates[bucket_name] = SharedExclusiveLock()
        return gate

    async def _load_bucket(self, name: str) -> BucketInfo:
        keys.validate_bucket_name(name)
        cached = self._buckets.get(name)
        if cached is not None:
            return cached
        bucket = await self._get_record(keys.bucket_key(name), keys.decode_bucket)
        if bucket is None:
            raise _error(ErrorReason.NO_SUCH_BUCKET, f"no such bucket: {name}")
        self._buckets[name] = bucket
        return bucket

    @asynccontextmanager
    async def _object_scope(self, bucket_name: str, key: str) -> AsyncIterator[BucketInfo]:
        """Holds the bucket shared and the object exclusively while a mutation is computed and written."""
        keys.validate_bucket_name(bucket_name)
        keys.validate_object_key(key)
        async with self._gate(bucket_name).shared():
            bucket = await self._load_bucket(bucket_name)
            async with self._object_locks.hold((bucket.uid, key)):
                yield bucket

    def _repair_put(
        self, bucket: BucketInfo, key: str, blobs: Iterable[BlobRef], upload_id: str = ""
    ) -> tuple[bytes, bytes] | None:
        """The repair-queue entry for a commit whose blobs include some short of their replicas."""
        short = short_blobs(blobs)
        if not short:
            return None
        entry = RepairEntry(
            bucket=bucket.name,
            key=key,
            upload_id=upload_id,
            queued_ms=self.now_ms(),
            locations=sorted({blob.location for blob in short}),
        )
        return keys.repair_key(bucket.uid, key, upload_id), keys.encode_record(entry)

    def _gc_put(self, blobs: Iterable[BlobRef]) -> tuple[bytes, bytes] | None:
        """The queue entry for ``blobs`` (allocated now, so call it right before submitting)."""
        blob_list = list(blobs)
        if not blob_list:
            return None
        self._gc_seq += 1
        entry = GcEntry(blobs=blob_list, queued_ms=self.now_ms())
        return keys.gc_key(self._gc_seq), keys.encode_record(entry)

    async def _submit_mutation(
        self,
        mutation: ObjectMutation,
        extra_deletes: Sequence[bytes] = (),
        extra_garbage: Sequence[BlobRef] = (),
        extra_puts: Sequence[tuple[bytes, bytes]] = (),
    ) -> None:
        puts = [(raw_key, keys.encode_record(record)) for raw_key, record in mutation.puts]
        puts.extend(extra_puts)
        gc_put = self._gc_put([*mutation.released_blobs, *extra_garbage])
        if gc_put is not None:
            puts.append(gc_put)
        if mutation.issued_version_id:
            # The newest id ever issued, read at submission: batches apply in submission order.
            puts.append((keys.VERSION_FLOOR_KEY, keys.encode_text(self._version_ids.last_issued)))
        await self.writer.submit(puts, [*mutation.deletes, *extra_deletes])

    # ---- buckets ----

    async def create_bucket(self, request: CreateBucketRequest) -> BucketInfo:
        bucket = BucketInfo()
        bucket.CopyFrom(request.bucket)
        keys.validate_bucket_name(bucket.name)
        if bucket.uid:
            keys.validate_bucket_uid(bucket.uid)
        else:
            bucket.uid = keys.new_bucket_uid()
        if not bucket.creation_ms:
            bucket.creation_ms = self.now_ms()
        async with self._gate(bucket.name).exclusive():
            existing = await self._get_record(keys.bucket_key(bucket.name), keys.decode_bucket)
            if existing is not None:
                if existing.owner_id == bucket.owner_id:
                    raise _error(ErrorReason.BUCKET_OWNED_BY_YOU, f"bucket {bucket.name} is already yours")
                raise _error(ErrorReason.BUCKET_EXISTS, f"bucket {bucket.name} already exists")
            await self.writer.submit([(keys.bucket_key(bucket.name), keys.encode_record(bucket))])
            self._buckets[bucket.name] = bucket
        return bucket

    async def get_bucket(self, request: BucketName) -> BucketInfo:
        return await self._load_bucket(request.name)

    async def update_bucket(self, request: BucketInfo) -> BucketInfo:
        keys.validate_bucket_name(request.name)
        async with self._gate(request.name).exclusive():
            existing = await self._load_bucket(request.name)
            updated = BucketInfo()
            updated.CopyFrom(request)
            updated.uid = existing.uid
            updated.creation_ms = request.creation_ms or existing.creation_ms
            if not request.owner_id:
                updated.owner_id = existing.owner_id
                updated.owner_display_name = existing.owner_display_name
            await self.writer.submit([(keys.bucket_key(updated.name), keys.encode_record(updated))])
            self._buckets[updated.name] = updated
        return updated

    async def delete_bucket(self, request: BucketName) -> Empty:
        """A bucket holding only multipart uploads in progress is deleted with them (as S3 does): the
        uploads and their parts go in the same batch as the bucket, and the parts' blobs to GC."""
        async with self._gate(request.name).exclusive():
            bucket = await self._load_bucket(request.name)
            if await self._off_loop(self._bucket_has_objects, bucket.uid):
                raise _error(ErrorReason.BUCKET_NOT_EMPTY, f"bucket {bucket.name} is not empty")
            upload_keys, part_keys, blobs = await self._off_loop(self._scan_bucket_uploads, bucket.uid)
            puts = []
            gc_put = self._gc_put(blobs)
            if gc_put is not None:
                puts.append(gc_put)
            await self.writer.submit(puts, [*upload_keys, *part_keys, keys.bucket_key(bucket.name)])
            self._buckets.pop(bucket.name, None)
        return Empty()

    def _bucket_has_objects(self, bucket_uid: str) -> bool:
        prefix = keys.object_prefix(bucket_uid)
        iterator = self.kv.iterate(prefix, keys.prefix_end(prefix))
        try:
            return next(iterator, None) is not None
        finally:
            iterator.close()

    def _scan_bucket_uploads(self, bucket_uid: str) -> tuple[list[bytes], list[bytes], list[BlobRef]]:
        """The keys of every upload in the bucket and of their parts, and the parts' blobs."""
        upload_keys: list[bytes] = []
        upload_ids: list[str] = []
        prefix = keys.upload_prefix(bucket_uid)
        iterator = self.kv.iterate(prefix, keys.prefix_end(prefix))
        try:
            for raw_key, raw in iterator:
                upload_keys.append(raw_key)
                upload_ids.append(keys.decode_upload(raw).upload_id)
        finally:
            iterator.close()
        part_keys: list[bytes] = []
        blobs: list[BlobRef] = []
        for upload_id in upload_ids:
            parts_prefix = keys.parts_prefix(upload_id)
            iterator = self.kv.iterate(parts_prefix, keys.prefix_end(parts_prefix))
            try:
                for raw_key, raw in iterator:
                    part_keys.append(raw_key)
                    part = keys.decode_part(raw)
                    if part.blob.blob_id:
                        blobs.append(part.blob)
            finally:
                iterator.close()
        return upload_keys, part_keys, blobs

    async def list_buckets(self, request: ListBucketsRequest) -> ListBucketsResponse:
        if request.max_buckets < 0:
            raise _error(ErrorReason.INVALID_ARGUMENT, "max_buckets must not be negative")
        buckets, truncated = await self._off_loop(self._scan_buckets, request)
        return ListBucketsResponse(buckets=buckets, is_truncated=truncated)

    def _scan_buckets(self, request: ListBucketsRequest) -> tuple[list[BucketInfo], bool]:
        """One page of ``request``'s buckets, read in key order from the first candidate name on."""
        range_prefix = keys.bucket_key(request.prefix)
        start = range_prefix
        if request.start_after:
            # The smallest key after start_after's own.
            start = max(start, keys.bucket_key(request.start_after) + b"\0")
        end = keys.prefix_end(range_prefix)
        limit = request.max_buckets or None
        found: list[BucketInfo] = []
        iterator = self.kv.iterate(start, end)
        try:
            for _, raw in iterator:
                bucket = keys.decode_bucket(raw)
                if request.owner_id and bucket.owner_id != request.owner_id:
                    continue
                if request.location and (bucket.location or DEFAULT_BUCKET_LOCATION) != request.location:
                    continue
                if limit is not None and len(found) == limit:
                    return found, True
                found.append(bucket)
        finally:
            iterator.close()
        return found, False

    # ---- objects ----

    def _read_object_state(
        self, bucket_uid: str, key: str, version_id: str
    ) -> tuple[ObjectMD | None, ObjectMD | None]:
        """The master and (if ``version_id``) that version's record, in one round trip."""
        wanted = [keys.master_key(bucket_uid, key)]
        if version_id:
            wanted.append(keys.version_key(bucket_uid, key, version_id))
        raws = self.kv.multi_get(wanted)
        master = keys.decode_object(raws[0]) if raws[0] is not None else None
        version = keys.decode_object(raws[1]) if version_id and raws[1] is not None else None
        return master, version

    def _newest_version(self, bucket_uid: str, key: str, excluding: str = "") -> ObjectMD | None:
        prefix = keys.versions_prefix(bucket_uid, key)
        iterator = self.kv.iterate(prefix, keys.prefix_end(prefix))
        try:
            for raw_key, raw in iterator:
                if raw_key[len(prefix) :].decode() != excluding:
                    return keys.decode_object(raw)
        finally:
            iterator.close()
        return None

    async def _current(self, bucket_uid: str, key: str, master: ObjectMD | None) -> ObjectMD | None:
        """The latest version: the master, or for a placeholder master the newest version key."""
        if master is not None and master.is_phd:
            return await self._off_loop(self._newest_version, bucket_uid, key, "")
        return master

    async def _read_for_version(
        self, bucket_uid: str, key: str, external_version_id: str
    ) -> tuple[ObjectMD | None, str, ObjectMD | None]:
        """(master, internal version id, that version's own record); resolves "null"/"" to the null
        version's id ("" when the null version lives only in the master)."""
        version_id = keys.decode_version_id(external_version_id)
        if version_id in ("", keys.NULL_VERSION_ID):
            master, _ = await self._off_loop(self._read_object_state, bucket_uid, key, "")
            null_id = resolve_null_version(master)
            if null_id is None:
                return master, keys.NULL_VERSION_ID, None
            if not null_id:
                return master, "", None
            version_id = null_id
        master, version = await self._off_loop(self._read_object_state, bucket_uid, key, version_id)
        return master, version_id, version

    async def get_object(self, request: GetObjectRequest) -> ObjectMD:
        bucket = await self._load_bucket(request.bucket)
        keys.validate_object_key(request.key)
        if not request.has_version_id:
            master, _ = await self._off_loop(self._read_object_state, bucket.uid, request.key, "")
            current = await self._current(bucket.uid, request.key, master)
            if current is None:
                raise _error(ErrorReason.NO_SUCH_KEY, f"no such key: {request.key}")
            return external_object(current)
        master, version_id, version = await self._read_for_version(
            bucket.uid, request.key, request.version_id
        )
        if version is None and master is not None and not master.is_phd and master.version_id == version_id:
            version = master  # a version kept only in the master (a null version)
        if version is None:
            raise _error(ErrorReason.NO_SUCH_VERSION, f"no such version of {request.key}")
        return external_object(version)

    async def put_object(
        self, request: PutObjectRequest, *, prepare: PreparePut | None = None
    ) -> PutObjectResponse:
        """``prepare`` (multipart completion) fills ``record`` under the object's lock and names what
        else the commit batch deletes and frees."""
        record = ObjectMD()
        record.CopyFrom(request.object)
        record.null_version_id = keys.decode_version_id(record.null_version_id)
        if record.null_version_id == keys.NULL_VERSION_ID:
            raise _error(ErrorReason.INVALID_ARGUMENT, "null_version_id must be a real version id")
        async with self._object_scope(request.bucket, record.key) as bucket:
            target = ""
            if request.has_version_id:
                target = keys.decode_version_id(request.version_id)
            wanted_keys = [keys.master_key(bucket.uid, record.key)]
            if request.intent_id:
                wanted_keys.append(keys.intent_key(request.intent_id))
            raws = await self._off_loop(self.kv.multi_get, wanted_keys)
            master = keys.decode_object(raws[0]) if raws[0] is not None else None
            intent = None
            if request.intent_id:
                if raws[1] is None:
                    raise _error(ErrorReason.NO_SUCH_INTENT, f"no such intent: {request.intent_id}")
                intent = keys.decode_intent(raws[1])
                if (intent.bucket, intent.key) != (request.bucket, record.key):
                    # Its lock is another object's: committing it here could race its abort.
                    raise _error(ErrorReason.INVALID_ARGUMENT, "the intent belongs to another object")
            current = await self._current(bucket.uid, record.key, master)
            extras = await prepare(bucket, record, current) if prepare is not None else CommitExtras()
            self._check_preconditions(request, current)
            if request.has_version_id and target == keys.NULL_VERSION_ID:
                record.is_null = True
                target = resolve_null_version(master, self.replication_group_id) or ""
            if target and target == keys.non_versioned_version_id(self.replication_group_id):
                record.is_null = True  # only a null version put before versioning is stored under this id
            existing_version = None
            if request.has_version_id and target:
                _, existing_version = await self._off_loop(
                    self._read_object_state, bucket.uid, record.key, target
                )
            master_version_kept = False
            if master is not None and master.version_id and master.version_id != target:
                master_version_kept = await self._off_loop(
                    self._version_exists, bucket.uid, record.key, master.version_id
                )
            preserve_null_as, replaced_null = await self._null_version_moves(
                bucket.uid, record, request, master, master_version_kept
            )
            now_ms = self.now_ms()
            if not (request.has_version_id and target and record.last_modified_ms):
                record.last_modified_ms = now_ms
            mutation = plan_put(
                bucket.uid,
                record,
                master=master,
                master_version_kept=master_version_kept,
                existing_version=existing_version,
                versioning=request.versioning,
                has_version_id=request.has_version_id,
                target_version_id=target,
                new_version_id=self._version_ids.next,
                intent=intent,
                preserve_null_as=preserve_null_as,
                replaced_null=replaced_null,
            )
            extra_deletes = [keys.intent_key(request.intent_id)] if request.intent_id else []
            # A blob short of its replicas is queued for repair in the commit that references it.
            repair_put = self._repair_put(bucket, record.key, record.blobs)
            await self._submit_mutation(
                mutation,
                [*extra_deletes, *extras.deletes],
                extras.garbage,
                [repair_put] if repair_put is not None else [],
            )
        reported = keys.NULL_VERSION_ID if record.is_null else mutation.reported_version_id
        return PutObjectResponse(
            version_id=keys.encode_version_id(reported), last_modified_ms=record.last_modified_ms
        )

    async def _null_version_moves(
        self,
        bucket_uid: str,
        record: ObjectMD,
        request: PutObjectRequest,
        master: ObjectMD | None,
        master_version_kept: bool,
    ) -> tuple[str, tuple[str, ObjectMD | None] | None]:
        """What a put does to the existing null version, decided under the object's lock (seed 7.1.4):
        a new version keeps a master-only null version under its own key; a new null version
        (``versionId: ''`` with ``is_null``) replaces the existing one wherever it lives."""
        if master is None or master.is_phd:
            return "", None
        null_id = resolve_null_version(master)
        if request.versioning and not request.has_version_id:
            master_is_null = master.is_null or not master.version_id
            if master_is_null and not master_version_kept:
                return master.version_id or keys.non_versioned_version_id(self.replication_group_id), None
            return "", None
        if request.has_version_id and not request.version_id and record.is_null and null_id:
            _, stored = await self._off_loop(self._read_object_state, bucket_uid, record.key, null_id)
            if stored is not None:
                return "", (null_id, stored)
        return "", None

    def _version_exists(self, bucket_uid: str, key: str, version_id: str) -> bool:
        return self.kv.get(keys.version_key(bucket_uid, key, version_id)) is not None

    @staticmethod
    def _check_preconditions(request: PutObjectRequest, current: ObjectMD | None) -> None:
        _check_still_current(request.if_current_modified_ms, current)
        live = current is not None and not current.is_delete_marker
        if request.if_none_match and live:
            raise _error(ErrorReason.PRECONDITION_FAILED, "the object already exists")
        if request.if_match:
            wanted = request.if_match.strip()
            matches = live and (wanted == "*" or wanted.strip('"') == current.etag.strip('"'))  # type: ignore[union-attr]
            if not matches:
                raise _error(ErrorReason.PRECONDITION_FAILED, "the object's etag does not match")

    async def delete_object(self, request: DeleteObjectRequest) -> DeleteObjectResponse:
        async with self._object_scope(request.bucket, request.key) as bucket:
            if not request.has_version_id:
                master, _ = await self._off_loop(self._read_object_state, bucket.uid, request.key, "")
                if master is None:
                    raise _error(ErrorReason.NO_SUCH_KEY, f"no such key: {request.key}")
                _check_still_current(request.if_current_modified_ms, master)
                kept = bool(master.version_id) and await self._off_loop(
                    self._version_exists, bucket.uid, request.key, master.version_id
                )
                mutation = plan_delete(
                    bucket.uid,
                    request.key,
                    removed=master,
                    delete_version_key=False,
                    replace_master=True,
                    removed_still_referenced=kept,
                )
            else:
                master, version_id, version = await self._read_for_version(
                    bucket.uid, request.key, request.version_id
                )
                if version_id == keys.NULL_VERSION_ID:
                    raise _error(ErrorReason.NO_SUCH_VERSION, f"no null version of {request.key}")
                master_is_target = master is not None and master.version_id == version_id
                target = version if version is not None else (master if master_is_target else None)
                if target is None:
                    raise _error(ErrorReason.NO_SUCH_VERSION, f"no such version of {request.key}")
                successor = None
                if master_is_target:
                    successor = await self._off_loop(
                        self._newest_version, bucket.uid, request.key, version_id
                    )
                mutation = plan_delete(
                    bucket.uid,
                    request.key,
                    removed=target,
                    delete_version_key=version is not None,
                    replace_master=master_is_target,
                    successor=successor,
                )
            await self._submit_mutation(mutation)
        return DeleteObjectResponse(removed=external_object(mutation.removed or ObjectMD()))

    async def list_objects(self, request: ListObjectsRequest) -> ListObjectsResponse:
        bucket = await self._load_bucket(request.bucket)
        for value, what in (
            (request.prefix, "prefix"),
            (request.delimiter, "delimiter"),
            (request.marker, "marker"),
        ):
            keys.validate_listing_text(value, what)
        if request.max_keys < 0:
            raise _error(ErrorReason.INVALID_ARGUMENT, "max_keys must not be negative")
        common = {
            "prefix": request.prefix,
            "delimiter": request.delimiter,
            "marker": request.marker,
            "max_keys": request.max_keys,
        }
        machine: ListingMachine
        if request.listing_type == LISTING_DELIMITER:
            machine = Delimiter(**common)  # type: ignore[arg-type]
        elif request.listing_type == LISTING_DELIMITER_MASTER:
            machine = DelimiterMaster(**common)  # type: ignore[arg-type]
        elif request.listing_type == LISTING_DELIMITER_VERSIONS:
            version_marker = await self._version_marker(bucket.uid, request.marker, request.version_id_marker)
            machine = DelimiterVersions(**common, version_id_marker=version_marker)  # type: ignore[arg-type]
        else:
            raise _error(ErrorReason.INVALID_ARGUMENT, "this listing type is not supported yet")
        result = await self._off_loop(run_listing, self.kv, machine, keys.object_prefix(bucket.uid))
        response = ListObjectsResponse(
            entries=[
                ListEntry(key=entry.key, object=external_object(entry.record)) for entry in result.entries
            ],
            common_prefixes=list(result.common_prefixes),
            is_truncated=result.is_truncated,
            next_marker=result.next_marker,
        )
        if result.next_version_id_marker:
            # The machine names the last listed version; clients get "null" for a null version.
            last = result.entries[-1]
            null_like = result.next_version_id_marker == keys.NULL_VERSION_ID or last.record.is_null
            response.next_version_id_marker = (
                keys.NULL_VERSION_ID if null_like else keys.encode_version_id(result.next_version_id_marker)
            )
        return response

    async def _version_marker(self, bucket_uid: str, marker: str, external: str) -> str:
        """The internal form of a version-id-marker; "null" stays "null" when the null version has no key
        of its own (it is listed at its master's position)."""
        if not marker or not external:
            return ""
        keys.validate_object_key(marker)
        internal = keys.decode_version_id(external)
        if internal != keys.NULL_VERSION_ID:
            return internal
        master, _ = await self._off_loop(self._read_object_state, bucket_uid, marker, "")
        null_id = resolve_null_version(master)
        if null_id:
            has_own_key = await self._off_loop(self._version_exists, bucket_uid, marker, null_id)
            if has_own_key:
                return null_id
        return keys.NULL_VERSION_ID

    # ---- intents and garbage ----

    async def create_intent(self, request: CreateIntentRequest) -> Intent:
        await self._load_bucket(request.bucket)
        keys.validate_object_key(request.key)
        if request.ttl_ms < 0:
            raise _error(ErrorReason.INVALID_ARGUMENT, "ttl_ms must not be negative")
        intent = Intent(
            id=keys.new_intent_id(),
            bucket=request.bucket,
            key=request.key,
            blobs=list(request.blobs),
            expires_ms=self.now_ms() + (request.ttl_ms or self.intent_ttl_ms),
            start_order=self._next_start_order(),
        )
        await self.writer.submit([(keys.intent_key(intent.id), keys.encode_record(intent))])
        return intent

    def _next_start_order(self) -> int:
        """Microseconds since the epoch, bumped so that every call returns more than the last."""
        self._last_start_order = max(self.now_ms() * 1000, self._last_start_order + 1)
        return self._last_start_order

    async def abort_intent(self, request: AbortIntentRequest) -> Empty:
        """Idempotent: an intent already committed, aborted or expired is not an error."""
        if not request.intent_id:
            raise _error(ErrorReason.INVALID_ARGUMENT, "intent_id is required")
        await self._close_intent(request.intent_id, lambda intent: True)
        return Empty()

    async def renew_intent(self, request: RenewIntentRequest) -> Intent:
        """Moves an open intent's deadline to now + ttl; NO_SUCH_INTENT once it was closed or collected.

        Under the object's lock, like closing, so a renewal never resurrects an intent the
        collector has just closed (its blobs may already be gone).
        """
        if not request.intent_id:
            raise _error(ErrorReason.INVALID_ARGUMENT, "intent_id is required")
        if request.ttl_ms < 0:
            raise _error(ErrorReason.INVALID_ARGUMENT, "ttl_ms must not be negative")
        intent = await self._get_record(keys.intent_key(request.intent_id), keys.decode_intent)
        if intent is None:
            raise _error(ErrorReason.NO_SUCH_INTENT, f"no such intent: {request.intent_id}")
        async with self._object_scope(intent.bucket, intent.key):
            intent = await self._get_record(keys.intent_key(request.intent_id), keys.decode_intent)
            if intent is None:
                raise _error(ErrorReason.NO_SUCH_INTENT, f"no such intent: {request.intent_id}")
            deadline = self.now_ms() + (request.ttl_ms or self.intent_ttl_ms)
            if deadline > intent.expires_ms:
                intent.expires_ms = deadline
                await self.writer.submit([(keys.intent_key(intent.id), keys.encode_record(intent))])
            return intent

    async def _close_intent(self, intent_id: str, should_close: Callable[[Intent], bool]) -> bool:
        """Deletes the intent and queues its blobs, under its object's lock so no commit races it."""
        intent = await self._get_record(keys.intent_key(intent_id), keys.decode_intent)
        if intent is None or not should_close(intent):
            return False
        try:
            async with self._object_scope(intent.bucket, intent.key):
                return await self._close_intent_locked(intent_id, should_close)
        except StrataError as error:
            if error.reason not in (ErrorReason.NO_SUCH_BUCKET, ErrorReason.INVALID_ARGUMENT):
                raise
        # No bucket means no commit can race us.
        return await self._close_intent_locked(intent_id, should_close)

    async def _close_intent_locked(self, intent_id: str, should_close: Callable[[Intent], bool]) -> bool:
        intent = await self._get_record(keys.intent_key(intent_id), keys.decode_intent)
        if intent is None or not should_close(intent):
            return False
        puts = []
        gc_put = self._gc_put(intent.blobs)
        if gc_put is not None:
            puts.append(gc_put)
        await self.writer.submit(puts, [keys.intent_key(intent_id)])
        return True

    async def queue_garbage(self, request: QueueGarbageRequest) -> Empty:
        gc_put = self._gc_put(request.blobs)
        if gc_put is not None:
            await self.writer.submit([gc_put])
        return Empty()

    async def expire_intents(self, expire_all: bool = False) -> int:
        """Closes every intent past its deadline (every intent with ``expire_all``); returns how many."""
        now_ms = self.now_ms()

        def expired(intent: Intent) -> bool:
            return expire_all or intent.expires_ms <= now_ms

        intent_ids = await self._off_loop(self._scan_intent_ids)
        closed = 0
        for intent_id in intent_ids:
            if await self._close_intent(intent_id, expired):
                closed += 1
        return closed

    def _scan_intent_ids(self) -> list[str]:
        iterator = self.kv.iterate(keys.INTENT_PREFIX, keys.prefix_end(keys.INTENT_PREFIX))
        try:
            return [raw_key[len(keys.INTENT_PREFIX) :].decode() for raw_key, _ in iterator]
        finally:
            iterator.close()

    async def gc_entries(self, limit: int, after: bytes = b"") -> list[tuple[bytes, GcEntry]]:
        """Up to ``limit`` queued GC entries with keys greater than ``after``."""
        return await self._off_loop(self._scan_gc_entries, limit, after)

    def _scan_gc_entries(self, limit: int, after: bytes) -> list[tuple[bytes, GcEntry]]:
        start = after + b"\0" if after else keys.GC_PREFIX
        iterator = self.kv.iterate(start, keys.prefix_end(keys.GC_PREFIX))
        found: list[tuple[bytes, GcEntry]] = []
        try:
            for raw_key, raw in iterator:
                found.append((raw_key, keys.decode_gc_entry(raw)))
                if len(found) >= limit:
                    break
        finally:
            iterator.close()
        return found

    async def remove_gc_entries(self, entry_keys: Sequence[bytes]) -> None:
        if entry_keys:
            await self.writer.submit([], list(entry_keys))

    async def count_gc_entries(self) -> int:
        def count() -> int:
            iterator = self.kv.iterate(keys.GC_PREFIX, keys.prefix_end(keys.GC_PREFIX))
            try:
                return sum(1 for _ in iterator)
            finally:
                iterator.close()

        return await self._off_loop(count)

    async def count_open_intents(self) -> int:
        return len(await self._off_loop(self._scan_intent_ids))

    async def gc_status(self, request: Empty) -> GcStatusResponse:
        response = GcStatusResponse(entries=await self.count_gc_entries())
        if self._collector is not None:
            response.progress.CopyFrom(self._collector.progress)
        return response

    async def run_gc(self, request: RunGcRequest) -> RunGcResponse:
        """One GC pass now. Without a deleter, intents still expire into the queue but no blob is deleted."""
        if self._deleter is None:
            async with self.gc_lock:
                expired = await self.expire_intents(request.expire_all_intents)
            return RunGcResponse(intents_expired=expired, entries_remaining=await self.count_gc_entries())
        if self._collector is None:
            self._collector = GarbageCollector(
                self, self._deleter, self.gc_interval_s, clock_ms=self._clock_ms
            )
        # An explicit request collects everything queued now, without the background pass's grace.
        stats = await self._collector.run_once(expire_all_intents=request.expire_all_intents, grace_s=0)
        return RunGcResponse(
            blobs_deleted=stats.blobs_deleted,
            intents_expired=stats.intents_expired,
            entries_remaining=stats.entries_remaining,
        )

    # ---- repair ----

    async def run_repair(self, request: RunRepairRequest) -> RunRepairResponse:
        """One repair pass now. Without a replicator (embedded mode) nothing is ever short."""
        if self._repairer is None:
            return RunRepairResponse(entries_remaining=len(await RepairQueue(self).entries()))
        stats = await self._repairer.run_once(request.lost_nodes)
        return RunRepairResponse(
            blobs_repaired=stats.blobs_repaired,
            entries_remaining=stats.entries_remaining,
            blobs_checked=stats.blobs_checked,
            blobs_copied=stats.blobs_copied,
            blobs_remaining=stats.blobs_remaining,
            lost_blobs_remaining=stats.lost_blobs_remaining,
        )

    async def repair_status(self, request: Empty) -> RepairStatusResponse:
        entries = await RepairQueue(self).entries()
        response = RepairStatusResponse(entries=len(entries))
        if self._repairer is not None:
            response.progress.CopyFrom(self._repairer.progress)
        for _, entry in entries:
            for location in entry.locations:
                response.entries_by_location[location] += 1
        return response


def _check_still_current(modified_ms: int, current: ObjectMD | None) -> None:
    """A write conditioned on the current version it was planned from (a lifecycle expiration):
    checked under the object's lock, so an overwrite committed since is never the one removed."""
    if not modified_ms:
        return
    if current is None or current.is_delete_marker or current.last_modified_ms != modified_ms:
        raise _error(ErrorReason.PRECONDITION_FAILED, "the current version is no longer the one planned")
