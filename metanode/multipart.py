"""Multipart uploads in the metadata core: upload and part records, completion, abort, listings.

Records: ``U<bucket-uid><key>\\0<upload-id>`` -> UploadInfo and ``P<upload-id><part:05d>`` ->
PartInfo (metanode/keys.py). Every mutation runs under the object's lock (the same lock
PutObject takes), so a part cannot land in an upload that is being completed or aborted,
and goes through the core's one write path as one batch:

- a part record replaces the record of that number whose upload started earlier and queues its
  blob for GC; a part whose upload started before the recorded one's (it finished last) is itself
  queued for GC and leaves the record alone, so the most recently started upload wins;
- completion writes the object (through the core's put path, so versioning and
  conditions apply unchanged) whose ``blobs`` are the chosen parts' blobs, queues the
  unchosen parts' blobs, and deletes the upload and every part record, all at once;
- abort deletes the upload and its parts and queues every part blob.

Completion copies no byte: the object's metadata points at the part blobs.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from metanode import keys
from metanode.listing import run_listing
from metanode.mpu_listing import MPU
from protos.common_pb2 import BlobRef, Checksum, Empty, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    COMPLETE_BAD_DIGEST,
    COMPLETE_ENTITY_TOO_SMALL,
    COMPLETE_INVALID_PART,
    COMPLETE_INVALID_PART_ORDER,
    BucketInfo,
    CompleteUploadRequest,
    CompleteUploadResponse,
    CreateUploadRequest,
    ListPartsRequest,
    ListPartsResponse,
    ListUploadsRequest,
    ListUploadsResponse,
    ObjectMD,
    ObjectPart,
    PartInfo,
    PutPartRequest,
    PutPartResponse,
    UploadInfo,
    UploadRef,
)

if TYPE_CHECKING:
    from metanode.core import MetadataCore

MAX_PART_NUMBER = 10_000
DEFAULT_MAX_PARTS = 1000
DEFAULT_MAX_UPLOADS = 1000
COMPOSITE = "COMPOSITE"
FULL_OBJECT = "FULL_OBJECT"
_CRC_WIDTH = {"CRC32": 4, "CRC32C": 4, "CRC64NVME": 8}


@dataclass(frozen=True)
class CommitExtras:
    """What a completion adds to the object's commit batch."""

    deletes: Sequence[bytes] = ()
    garbage: Sequence[BlobRef] = ()


class AlreadyCompleted(Exception):
    """The upload was completed before; ``current`` is the object it created (a retried completion)."""

    def __init__(self, current: ObjectMD) -> None:
        super().__init__("upload already completed")
        self.current = current


class CompletionRejected(Exception):
    def __init__(self, problem: int, part_number: int = 0) -> None:
        super().__init__(f"completion rejected ({problem}) at part {part_number}")
        self.problem = problem
        self.part_number = part_number


def _no_such_upload(upload_id: str) -> StrataError:
    return StrataError(ErrorReason.NO_SUCH_UPLOAD, f"no such upload: {upload_id}")


def _check_part_number(part_number: int) -> None:
    if not 1 <= part_number <= MAX_PART_NUMBER:
        raise StrataError(ErrorReason.INVALID_ARGUMENT, "Part number must be an integer between 1 and 10000")


def _started_before(part: PartInfo, recorded: PartInfo) -> bool:
    """Whether ``part``'s upload started before ``recorded``'s (a part without an order is newest)."""
    return bool(part.start_order and recorded.start_order and part.start_order < recorded.start_order)


def _same_etag(given: str, stored: str) -> bool:
    return given.strip().strip('"').lower() == stored.lower()


def multipart_etag(parts: Sequence[PartInfo]) -> str:
    """S3's multipart ETag: MD5 of the parts' binary MD5s, then ``-<count>``."""
    digest = hashlib.md5(b"".join(bytes.fromhex(part.etag) for part in parts))
    return f"{digest.hexdigest()}-{len(parts)}"


def completed_part(part: PartInfo, algorithm: str) -> ObjectPart:
    """What the completed object keeps of one part: number, size, and its checksum in the upload's
    algorithm (the one the object's checksum is built from; none when the upload has no algorithm)."""
    summary = ObjectPart(part_number=part.part_number, size=part.size)
    value = _part_checksum(part, algorithm) if algorithm else None
    if value is not None:
        summary.checksums.append(Checksum(algorithm=algorithm, value=value))
    return summary


def _part_checksum(part: PartInfo, algorithm: str) -> str | None:
    for checksum in part.checksums:
        if checksum.algorithm == algorithm:
            return checksum.value
    return None


def _composite_hasher(algorithm: str) -> Callable[[bytes], bytes]:
    if algorithm == "CRC32":
        return lambda data: zlib.crc32(data).to_bytes(4, "big")
    if algorithm == "CRC32C":
        import crc32c

        return lambda data: crc32c.crc32c(data).to_bytes(4, "big")
    if algorithm == "SHA1":
        return lambda data: hashlib.sha1(data).digest()
    if algorithm == "SHA256":
        return lambda data: hashlib.sha256(data).digest()
    raise StrataError(ErrorReason.INVALID_ARGUMENT, f"{algorithm} has no composite checksum")


def _full_object_crc(algorithm: str, parts: Sequence[PartInfo], values: Sequence[bytes]) -> bytes:
    from awscrt import checksums as crt_checksums

    combine = {
        "CRC32": crt_checksums.combine_crc32,
        "CRC32C": crt_checksums.combine_crc32c,
        "CRC64NVME": crt_checksums.combine_crc64nvme,
    }[algorithm]
    total = 0
    for index, (part, value) in enumerate(zip(parts, values, strict=True)):
        crc = int.from_bytes(value, "big")
        total = crc if index == 0 else combine(total, crc, part.size)
    return total.to_bytes(_CRC_WIDTH[algorithm], "big")


def object_checksum(upload: UploadInfo, parts: Sequence[PartInfo]) -> Checksum | None:
    """The completed object's checksum from its parts' (None when a part has none to combine)."""
    algorithm = upload.checksum_algorithm
    if not algorithm:
        return None
    values: list[bytes] = []
    for part in parts:
        value = _part_checksum(part, algorithm)
        if value is None:
            return None
        values.append(base64.b64decode(value))
    if upload.checksum_type == FULL_OBJECT:
        if algorithm not in _CRC_WIDTH:
            return None
        combined = _full_object_crc(algorithm, parts, values)
        return Checksum(algorithm=algorithm, value=base64.b64encode(combined).decode("ascii"))
    digest = _composite_hasher(algorithm)(b"".join(values))
    return Checksum(algorithm=algorithm, value=f"{base64.b64encode(digest).decode('ascii')}-{len(parts)}")


def matches_expected(expected: Checksum, computed: Checksum | None) -> bool:
    """Whether the client's whole-object checksum equals the combined one (a composite may omit -<parts>)."""
    if computed is None or expected.algorithm != computed.algorithm:
        return False
    if expected.value == computed.value:
        return True
    return "-" not in expected.value and computed.value.split("-", 1)[0] == expected.value


def choose_parts(
    request: CompleteUploadRequest, stored: dict[int, PartInfo], min_part_size: int
) -> list[PartInfo]:
    """The stored parts the completion names, validated like S3 does; raises CompletionRejected."""
    chosen: list[PartInfo] = []
    previous = 0
    for given in request.parts:
        if given.part_number <= previous:
            raise CompletionRejected(COMPLETE_INVALID_PART_ORDER, given.part_number)
        previous = given.part_number
        part = stored.get(given.part_number)
        if part is None or not _same_etag(given.etag, part.etag):
            raise CompletionRejected(COMPLETE_INVALID_PART, given.part_number)
        for checksum in given.checksums:
            stored_value = _part_checksum(part, checksum.algorithm)
            if stored_value is not None and stored_value != checksum.value:
                raise CompletionRejected(COMPLETE_INVALID_PART, given.part_number)
        chosen.append(part)
    for part in chosen[:-1]:
        if part.size < min_part_size:
            raise CompletionRejected(COMPLETE_ENTITY_TOO_SMALL, part.part_number)
    return chosen


class Multipart:
    """The multipart half of ``MetadataCore`` (it reaches the core's lock, batch and GC plumbing)."""

    def __init__(self, core: MetadataCore) -> None:
        self._core = core

    # ---- reads (blocking helpers run in a thread) ----

    def _scan_parts(self, upload_id: str, after: int = 0, limit: int | None = None) -> list[PartInfo]:
        prefix = keys.parts_prefix(upload_id)
        start = keys.part_key(upload_id, after + 1) if after else prefix
        iterator = self._core.kv.iterate(start, keys.prefix_end(prefix))
        parts: list[PartInfo] = []
        try:
            for _, raw in iterator:
                parts.append(keys.decode_part(raw))
                if limit is not None and len(parts) >= limit:
                    break
        finally:
            iterator.close()
        return parts

    async def _read_upload(self, bucket: BucketInfo, ref: UploadRef) -> UploadInfo:
        if not keys.is_upload_id(ref.upload_id):
            raise _no_such_upload(ref.upload_id)
        raw = await self._core._off_loop(
            self._core.kv.get, keys.upload_key(bucket.uid, ref.key, ref.upload_id)
        )
        if raw is None:
            raise _no_such_upload(ref.upload_id)
        return keys.decode_upload(raw)

    # ---- operations ----

    async def create_upload(self, request: CreateUploadRequest) -> UploadInfo:
        upload = UploadInfo()
        upload.CopyFrom(request.upload)
        if upload.checksum_algorithm and not upload.checksum_type:
            upload.checksum_type = FULL_OBJECT if upload.checksum_algorithm == "CRC64NVME" else COMPOSITE
        async with self._core._object_scope(upload.bucket, upload.key) as bucket:
            upload.initiated_ms = self._core.now_ms()
            upload.upload_id = keys.new_upload_id(upload.initiated_ms)
            upload.object.key = upload.key
            await self._core.writer.submit(
                [(keys.upload_key(bucket.uid, upload.key, upload.upload_id), keys.encode_record(upload))]
            )
        return upload

    async def get_upload(self, request: UploadRef) -> UploadInfo:
        bucket = await self._core._load_bucket(request.bucket)
        keys.validate_object_key(request.key)
        return await self._read_upload(bucket, request)

    async def put_part(self, request: PutPartRequest) -> PutPartResponse:
        ref = request.upload
        part = PartInfo()
        part.CopyFrom(request.part)
        _check_part_number(part.part_number)
        async with self._core._object_scope(ref.bucket, ref.key) as bucket:
            await self._read_upload(bucket, ref)
            wanted = [keys.part_key(ref.upload_id, part.part_number)]
            if request.intent_id:
                wanted.append(keys.intent_key(request.intent_id))
            raws = await self._core._off_loop(self._core.kv.multi_get, wanted)
            if request.intent_id:
                if raws[1] is None:
                    raise StrataError(ErrorReason.NO_SUCH_INTENT, f"no such intent: {request.intent_id}")
                intent = keys.decode_intent(raws[1])
                if (intent.bucket, intent.key) != (ref.bucket, ref.key):
                    raise StrataError(ErrorReason.INVALID_ARGUMENT, "the intent belongs to another object")
                part.start_order = intent.start_order
            replaced = keys.decode_part(raws[0]) if raws[0] is not None else None
            deletes = [keys.intent_key(request.intent_id)] if request.intent_id else []
            if replaced is not None and _started_before(part, replaced):
                # A later-started upload of this number finished first: it stays, this one is garbage.
                gc_put = self._core._gc_put([part.blob] if part.blob.blob_id else [])
                await self._core.writer.submit([gc_put] if gc_put is not None else [], deletes)
                return PutPartResponse(superseded=True)
            part.last_modified_ms = self._core.now_ms()
            puts = [(wanted[0], keys.encode_record(part))]
            if replaced is not None and replaced.blob.blob_id != part.blob.blob_id:
                gc_put = self._core._gc_put([replaced.blob])
                if gc_put is not None:
                    puts.append(gc_put)
            repair_put = self._core._repair_put(bucket, ref.key, [part.blob], ref.upload_id)
            if repair_put is not None:
                puts.append(repair_put)
            await self._core.writer.submit(puts, deletes)
        return PutPartResponse(replaced=replaced)

    async def list_parts(self, request: ListPartsRequest) -> ListPartsResponse:
        ref = request.upload
        bucket = await self._core._load_bucket(ref.bucket)
        keys.validate_object_key(ref.key)
        if request.max_parts < 0 or request.part_number_marker < 0:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "max-parts and part-number-marker must be >= 0")
        upload = await self._read_upload(bucket, ref)
        max_parts = min(request.max_parts or DEFAULT_MAX_PARTS, DEFAULT_MAX_PARTS)
        marker = min(request.part_number_marker, MAX_PART_NUMBER)
        parts = await self._core._off_loop(self._scan_parts, ref.upload_id, marker, max_parts + 1)
        truncated = len(parts) > max_parts
        parts = parts[:max_parts]
        return ListPartsResponse(
            upload=upload,
            parts=parts,
            is_truncated=truncated,
            next_part_number_marker=parts[-1].part_number if parts else 0,
        )

    async def abort_upload(self, request: UploadRef) -> Empty:
        async with self._core._object_scope(request.bucket, request.key) as bucket:
            await self._read_upload(bucket, request)
            parts = await self._core._off_loop(self._scan_parts, request.upload_id)
            puts = []
            gc_put = self._core._gc_put(part.blob for part in parts if part.blob.blob_id)
            if gc_put is not None:
                puts.append(gc_put)
            deletes = [keys.upload_key(bucket.uid, request.key, request.upload_id)]
            deletes.extend(keys.part_key(request.upload_id, part.part_number) for part in parts)
            await self._core.writer.submit(puts, deletes)
        return Empty()

    async def complete_upload(self, request: CompleteUploadRequest) -> CompleteUploadResponse:
        ref = request.upload
        if not request.parts:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "a completion names at least one part")
        put = request.put
        put.bucket = ref.bucket
        put.object.key = ref.key
        put.intent_id = ""
        built: list[ObjectMD] = []

        async def prepare(bucket: BucketInfo, record: ObjectMD, current: ObjectMD | None) -> CommitExtras:
            if not keys.is_upload_id(ref.upload_id):
                raise _no_such_upload(ref.upload_id)
            raw = await self._core._off_loop(
                self._core.kv.get, keys.upload_key(bucket.uid, ref.key, ref.upload_id)
            )
            if raw is None:
                if current is not None and current.upload_id == ref.upload_id:
                    raise AlreadyCompleted(current)
                raise _no_such_upload(ref.upload_id)
            upload = keys.decode_upload(raw)
            stored = await self._core._off_loop(self._scan_parts, ref.upload_id)
            by_number = {part.part_number: part for part in stored}
            chosen = choose_parts(request, by_number, request.min_part_size)
            final = ObjectMD()
            final.CopyFrom(upload.object)
            final.MergeFrom(record)
            final.key = ref.key
            final.size = sum(part.size for part in chosen)
            final.etag = multipart_etag(chosen)
            final.inline_data = b""
            del final.blobs[:]
            if request.HasField("remote_blob"):
                final.blobs.append(request.remote_blob)
            else:
                final.blobs.extend(part.blob for part in chosen)
            del final.part_sizes[:]
            final.part_sizes.extend(part.size for part in chosen)
            del final.sse_part_keys[:]
            if final.sse_algorithm:  # each part was sealed with its own data key
                final.sse_part_keys.extend(part.sse_key for part in chosen)
            final.parts_count = len(chosen)
            del final.parts[:]
            final.parts.extend(completed_part(part, upload.checksum_algorithm) for part in chosen)
            final.upload_id = ref.upload_id
            del final.checksums[:]
            checksum = object_checksum(upload, chosen)
            if request.HasField("expected_checksum") and not matches_expected(
                request.expected_checksum, checksum
            ):
                raise CompletionRejected(COMPLETE_BAD_DIGEST)
            if checksum is not None:
                final.checksums.append(checksum)
            record.CopyFrom(final)
            built.append(record)
            chosen_numbers = {part.part_number for part in chosen}
            return CommitExtras(
                deletes=[
                    keys.upload_key(bucket.uid, ref.key, ref.upload_id),
                    *(keys.part_key(ref.upload_id, part.part_number) for part in stored),
                ],
                garbage=[
                    part.blob
                    for part in stored
                    if part.part_number not in chosen_numbers and part.blob.blob_id
                ],
            )

        try:
            committed = await self._core.put_object(put, prepare=prepare)
        except AlreadyCompleted as done:
            return CompleteUploadResponse(object=_external(done.current), already_completed=True)
        except CompletionRejected as rejected:
            return CompleteUploadResponse(problem=rejected.problem, problem_part_number=rejected.part_number)  # type: ignore[arg-type]
        final = built[-1]
        final.version_id = committed.version_id
        final.null_version_id = ""
        final.last_modified_ms = committed.last_modified_ms
        return CompleteUploadResponse(object=final)

    async def list_uploads(self, request: ListUploadsRequest) -> ListUploadsResponse:
        bucket = await self._core._load_bucket(request.bucket)
        for value, what in (
            (request.prefix, "prefix"),
            (request.delimiter, "delimiter"),
            (request.key_marker, "key-marker"),
            (request.upload_id_marker, "upload-id-marker"),
        ):
            keys.validate_listing_text(value, what)
        if request.max_uploads < 0:
            raise StrataError(ErrorReason.INVALID_ARGUMENT, "max-uploads must not be negative")
        machine = MPU(
            prefix=request.prefix,
            delimiter=request.delimiter,
            key_marker=request.key_marker,
            upload_id_marker=request.upload_id_marker,
            max_keys=min(request.max_uploads, DEFAULT_MAX_UPLOADS),
        )
        await self._core._off_loop(run_listing, self._core.kv, machine, keys.upload_prefix(bucket.uid))  # type: ignore[arg-type]
        listing = machine.result()
        return ListUploadsResponse(
            uploads=[entry.upload for entry in listing.uploads],
            common_prefixes=list(listing.common_prefixes),
            is_truncated=listing.is_truncated,
            next_key_marker=listing.next_key_marker,
            next_upload_id_marker=listing.next_upload_id_marker,
        )


def _external(record: ObjectMD) -> ObjectMD:
    from metanode.core import external_object

    return external_object(record)
