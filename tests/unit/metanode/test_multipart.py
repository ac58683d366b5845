"""Multipart uploads in the metadata core (both KV stores): records, completion, abort, GC, listings."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import random
import zlib

import pytest

from metanode import keys
from metanode.core import MetadataCore
from metanode.listing import run_listing
from metanode.mpu_listing import MPU
from protos.common_pb2 import BlobRef, Checksum, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    COMPLETE_BAD_DIGEST,
    COMPLETE_ENTITY_TOO_SMALL,
    COMPLETE_INVALID_PART,
    COMPLETE_INVALID_PART_ORDER,
    COMPLETE_OK,
    BucketInfo,
    CompletedPart,
    CompleteUploadRequest,
    CreateBucketRequest,
    CreateIntentRequest,
    CreateUploadRequest,
    GetObjectRequest,
    ListPartsRequest,
    ListUploadsRequest,
    ObjectMD,
    PartInfo,
    PutObjectRequest,
    PutPartRequest,
    UploadInfo,
    UploadRef,
)

MIB = 1024 * 1024


async def reason_of(awaitable: object) -> int:
    with pytest.raises(StrataError) as caught:
        await awaitable  # type: ignore[misc]
    return caught.value.reason


async def make_bucket(core: MetadataCore, name: str = "bucket") -> BucketInfo:
    return await core.create_bucket(CreateBucketRequest(bucket=BucketInfo(name=name, owner_id="alice")))


async def gc_blob_ids(core: MetadataCore) -> list[str]:
    return [blob.blob_id for _, entry in await core.gc_entries(1000) for blob in entry.blobs]


async def create(core: MetadataCore, key: str = "k", **upload: object) -> UploadInfo:
    template = ObjectMD(content_type="text/plain", user_metadata={"a": "1"})
    return await core.create_upload(
        CreateUploadRequest(upload=UploadInfo(bucket="bucket", key=key, object=template, **upload))  # type: ignore[arg-type]
    )


def md5_of(text: str) -> str:
    return hashlib.md5(text.encode()).hexdigest()


async def put_part(
    core: MetadataCore,
    upload: UploadInfo,
    number: int,
    blob_id: str,
    size: int = 5 * MIB,
    checksums: list[Checksum] | None = None,
) -> PartInfo:
    part = PartInfo(
        part_number=number,
        etag=md5_of(blob_id),
        size=size,
        blob=BlobRef(location="us-east-1", blob_id=blob_id, size=size),
        checksums=checksums or [],
    )
    intent = await core.create_intent(
        CreateIntentRequest(bucket=upload.bucket, key=upload.key, blobs=[part.blob])
    )
    await core.put_part(
        PutPartRequest(
            upload=UploadRef(bucket=upload.bucket, key=upload.key, upload_id=upload.upload_id),
            part=part,
            intent_id=intent.id,
        )
    )
    return part


def completion(upload: UploadInfo, *parts: PartInfo, min_part_size: int = 5 * MIB) -> CompleteUploadRequest:
    return CompleteUploadRequest(
        upload=UploadRef(bucket=upload.bucket, key=upload.key, upload_id=upload.upload_id),
        parts=[CompletedPart(part_number=part.part_number, etag=f'"{part.etag}"') for part in parts],
        put=PutObjectRequest(object=ObjectMD(key=upload.key)),
        min_part_size=min_part_size,
    )


def ref(upload: UploadInfo) -> UploadRef:
    return UploadRef(bucket=upload.bucket, key=upload.key, upload_id=upload.upload_id)


async def test_upload_ids_are_url_safe_fixed_length_and_sort_by_creation(core: MetadataCore) -> None:
    await make_bucket(core)
    first = await create(core)
    await asyncio.sleep(0.002)
    second = await create(core)
    assert keys.is_upload_id(first.upload_id) and keys.is_upload_id(second.upload_id)
    assert first.upload_id < second.upload_id
    assert (await core.get_upload(ref(first))).object.content_type == "text/plain"


async def test_completion_points_the_object_at_the_part_blobs_and_frees_unchosen_parts(
    core: MetadataCore,
) -> None:
    await make_bucket(core)
    upload = await create(core)
    one = await put_part(core, upload, 1, "b1")
    await put_part(core, upload, 2, "b2-unused")
    three = await put_part(core, upload, 3, "b3", size=100)
    response = await core.complete_upload(completion(upload, one, three))
    assert response.problem == COMPLETE_OK
    stored = await core.get_object(GetObjectRequest(bucket="bucket", key="k"))
    assert [blob.blob_id for blob in stored.blobs] == ["b1", "b3"]
    assert list(stored.part_sizes) == [5 * MIB, 100]
    assert stored.size == 5 * MIB + 100 and stored.parts_count == 2
    expected = hashlib.md5(bytes.fromhex(one.etag) + bytes.fromhex(three.etag)).hexdigest() + "-2"
    assert stored.etag == expected == response.object.etag
    assert stored.content_type == "text/plain" and dict(stored.user_metadata) == {"a": "1"}
    assert await gc_blob_ids(core) == ["b2-unused"]
    assert await reason_of(core.get_upload(ref(upload))) == ErrorReason.NO_SUCH_UPLOAD
    assert await core._off_loop(core._multipart._scan_parts, upload.upload_id) == []


async def test_a_replaced_part_queues_its_old_blob(core: MetadataCore) -> None:
    await make_bucket(core)
    upload = await create(core)
    await put_part(core, upload, 1, "old")
    await put_part(core, upload, 1, "new")
    assert await gc_blob_ids(core) == ["old"]
    listed = await core.list_parts(ListPartsRequest(upload=ref(upload)))
    assert [part.blob.blob_id for part in listed.parts] == ["new"]


async def test_the_later_started_upload_of_a_part_wins_whatever_order_they_finish_in(
    core: MetadataCore,
) -> None:
    await make_bucket(core)
    upload = await create(core)
    parts = {}
    intents = {}
    for name in ("earlier", "later"):
        parts[name] = PartInfo(
            part_number=1,
            etag=md5_of(name),
            size=10,
            blob=BlobRef(location="us-east-1", blob_id=name, size=10),
        )
        intents[name] = await core.create_intent(
            CreateIntentRequest(bucket="bucket", key="k", blobs=[parts[name].blob])
        )
    assert intents["earlier"].start_order < intents["later"].start_order
    for name in ("later", "earlier"):  # the earlier upload finishes last
        answer = await core.put_part(
            PutPartRequest(upload=ref(upload), part=parts[name], intent_id=intents[name].id)
        )
        assert answer.superseded == (name == "earlier")
    listed = await core.list_parts(ListPartsRequest(upload=ref(upload)))
    assert [part.blob.blob_id for part in listed.parts] == ["later"]
    assert await gc_blob_ids(core) == ["earlier"]
    # Both intents are closed: nothing is left for expiry to free twice.
    assert await core.expire_intents(expire_all=True) == 0


async def test_delete_bucket_drops_its_uploads_and_frees_their_parts(core: MetadataCore) -> None:
    await make_bucket(core)
    first = await create(core, "a")
    await put_part(core, first, 1, "a1")
    await put_part(core, first, 2, "a2")
    second = await create(core, "b")
    await put_part(core, second, 1, "b1")
    await core.delete_bucket(core_bucket_name())
    assert sorted(await gc_blob_ids(core)) == ["a1", "a2", "b1"]
    for upload in (first, second):
        assert await core._off_loop(core._multipart._scan_parts, upload.upload_id) == []
    assert list(core.kv.iterate(keys.UPLOAD_PREFIX, keys.prefix_end(keys.UPLOAD_PREFIX))) == []
    assert await reason_of(core.get_upload(ref(first))) == ErrorReason.NO_SUCH_BUCKET


async def test_abort_frees_every_part_and_forgets_the_upload(core: MetadataCore) -> None:
    await make_bucket(core)
    upload = await create(core)
    await put_part(core, upload, 1, "a")
    await put_part(core, upload, 7, "b")
    await core.abort_upload(ref(upload))
    assert sorted(await gc_blob_ids(core)) == ["a", "b"]
    assert await reason_of(core.abort_upload(ref(upload))) == ErrorReason.NO_SUCH_UPLOAD
    assert await reason_of(put_part(core, upload, 2, "c")) == ErrorReason.NO_SUCH_UPLOAD
    # The bucket holds nothing any more, so it can go.
    await core.delete_bucket(core_bucket_name())


def core_bucket_name():  # type: ignore[no-untyped-def]
    from protos.metadata_pb2 import BucketName

    return BucketName(name="bucket")


async def test_completion_rejects_bad_part_lists_and_changes_nothing(core: MetadataCore) -> None:
    await make_bucket(core)
    upload = await create(core)
    one = await put_part(core, upload, 1, "b1")
    two = await put_part(core, upload, 2, "b2")
    small = await put_part(core, upload, 3, "b3", size=10)
    last = await put_part(core, upload, 4, "b4", size=10)
    wrong_etag = PartInfo(part_number=2, etag=md5_of("other"))
    missing = PartInfo(part_number=9, etag=md5_of("x"))
    cases = [
        ((two, one), COMPLETE_INVALID_PART_ORDER, 1),
        ((one, one), COMPLETE_INVALID_PART_ORDER, 1),
        ((one, wrong_etag), COMPLETE_INVALID_PART, 2),
        ((one, missing), COMPLETE_INVALID_PART, 9),
        ((one, small, last), COMPLETE_ENTITY_TOO_SMALL, 3),
    ]
    for parts, problem, number in cases:
        response = await core.complete_upload(completion(upload, *parts))
        assert (response.problem, response.problem_part_number) == (problem, number)
    assert (await core.get_upload(ref(upload))).upload_id == upload.upload_id
    assert await gc_blob_ids(core) == []
    assert (
        await reason_of(core.get_object(GetObjectRequest(bucket="bucket", key="k")))
        == ErrorReason.NO_SUCH_KEY
    )
    # The last part may be small.
    assert (await core.complete_upload(completion(upload, one, two, small))).problem == COMPLETE_OK


async def test_a_retried_completion_answers_the_same_object(core: MetadataCore) -> None:
    await make_bucket(core)
    upload = await create(core)
    one = await put_part(core, upload, 1, "b1", size=10)
    first = await core.complete_upload(completion(upload, one))
    again = await core.complete_upload(completion(upload, one))
    assert again.already_completed and again.object.etag == first.object.etag
    never_created = UploadInfo(bucket="bucket", key="k", upload_id=keys.new_upload_id(1))
    assert await reason_of(core.complete_upload(completion(never_created, one))) == ErrorReason.NO_SUCH_UPLOAD


async def test_completion_in_a_versioned_bucket_creates_a_new_version(core: MetadataCore) -> None:
    await make_bucket(core)
    await core.put_object(
        PutObjectRequest(bucket="bucket", object=ObjectMD(key="k", etag="e"), versioning=True)
    )
    upload = await create(core)
    one = await put_part(core, upload, 1, "b1", size=10)
    request = completion(upload, one)
    request.put.versioning = True
    response = await core.complete_upload(request)
    assert response.object.version_id
    current = await core.get_object(GetObjectRequest(bucket="bucket", key="k"))
    assert current.version_id == response.object.version_id and current.parts_count == 1
    assert await gc_blob_ids(core) == []  # the older version keeps its data


async def test_completion_honours_if_none_match(core: MetadataCore) -> None:
    await make_bucket(core)
    await core.put_object(PutObjectRequest(bucket="bucket", object=ObjectMD(key="k", etag="e")))
    upload = await create(core)
    one = await put_part(core, upload, 1, "b1", size=10)
    request = completion(upload, one)
    request.put.if_none_match = True
    assert await reason_of(core.complete_upload(request)) == ErrorReason.PRECONDITION_FAILED
    assert (await core.get_upload(ref(upload))).upload_id == upload.upload_id


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


async def test_composite_and_full_object_checksums(core: MetadataCore) -> None:
    await make_bucket(core)
    datas = [b"a" * 10, b"b" * 7]
    for checksum_type in ("COMPOSITE", "FULL_OBJECT"):
        upload = await create(core, checksum_algorithm="CRC32", checksum_type=checksum_type)
        parts = [
            await put_part(
                core,
                upload,
                number,
                f"{checksum_type}{number}",
                size=len(data),
                checksums=[Checksum(algorithm="CRC32", value=_crc32(data))],
            )
            for number, data in enumerate(datas, start=1)
        ]
        response = await core.complete_upload(completion(upload, *parts, min_part_size=1))
        (checksum,) = response.object.checksums
        if checksum_type == "COMPOSITE":
            raw = b"".join(base64.b64decode(_crc32(data)) for data in datas)
            assert checksum.value == _crc32(raw) + "-2"
        else:
            assert checksum.value == _crc32(b"".join(datas))


async def test_completion_rejects_a_part_whose_checksum_differs(core: MetadataCore) -> None:
    await make_bucket(core)
    upload = await create(core, checksum_algorithm="CRC32")
    part = await put_part(
        core, upload, 1, "b1", size=3, checksums=[Checksum(algorithm="CRC32", value=_crc32(b"abc"))]
    )
    request = completion(upload, part)
    request.parts[0].checksums.append(Checksum(algorithm="CRC32", value=_crc32(b"xyz")))
    assert (await core.complete_upload(request)).problem == COMPLETE_INVALID_PART


async def test_completion_verifies_the_expected_whole_object_checksum(core: MetadataCore) -> None:
    await make_bucket(core)
    datas = [b"a" * 10, b"b" * 7]
    for checksum_type in ("COMPOSITE", "FULL_OBJECT"):
        key = f"k-{checksum_type}"
        upload = await create(core, key=key, checksum_algorithm="CRC32", checksum_type=checksum_type)
        parts = [
            await put_part(
                core,
                upload,
                number,
                f"expected-{checksum_type}{number}",
                size=len(data),
                checksums=[Checksum(algorithm="CRC32", value=_crc32(data))],
            )
            for number, data in enumerate(datas, start=1)
        ]
        if checksum_type == "COMPOSITE":
            right = _crc32(b"".join(base64.b64decode(_crc32(data)) for data in datas)) + "-2"
        else:
            right = _crc32(b"".join(datas))
        for wrong in (
            Checksum(algorithm="CRC32", value=_crc32(b"other")),
            Checksum(algorithm="SHA1", value=right),
        ):
            request = completion(upload, *parts, min_part_size=1)
            request.expected_checksum.CopyFrom(wrong)
            assert (await core.complete_upload(request)).problem == COMPLETE_BAD_DIGEST
        # Rejected: the upload and its parts remain, no object, nothing queued for collection.
        listed = await core.list_parts(ListPartsRequest(upload=ref(upload)))
        assert [part.part_number for part in listed.parts] == [1, 2]
        assert await reason_of(core.get_object(GetObjectRequest(bucket="bucket", key=key))) == (
            ErrorReason.NO_SUCH_KEY
        )
        assert await gc_blob_ids(core) == []
        request = completion(upload, *parts, min_part_size=1)
        request.expected_checksum.CopyFrom(Checksum(algorithm="CRC32", value=right))
        response = await core.complete_upload(request)
        assert response.problem == COMPLETE_OK and response.object.checksums[0].value == right


async def test_list_parts_pages_by_part_number(core: MetadataCore) -> None:
    await make_bucket(core)
    upload = await create(core)
    for number in (1, 2, 5, 10, 11):
        await put_part(core, upload, number, f"b{number}", size=number)
    first = await core.list_parts(ListPartsRequest(upload=ref(upload), max_parts=2))
    assert [part.part_number for part in first.parts] == [1, 2] and first.is_truncated
    assert first.next_part_number_marker == 2
    rest = await core.list_parts(ListPartsRequest(upload=ref(upload), part_number_marker=2, max_parts=10))
    assert [part.part_number for part in rest.parts] == [5, 10, 11] and not rest.is_truncated
    assert rest.upload.object.content_type == "text/plain"


async def test_part_numbers_are_bounded(core: MetadataCore) -> None:
    await make_bucket(core)
    upload = await create(core)
    for number in (0, 10_001):
        assert await reason_of(put_part(core, upload, number, "x")) == ErrorReason.INVALID_ARGUMENT


async def test_unknown_or_malformed_upload_ids_are_no_such_upload(core: MetadataCore) -> None:
    await make_bucket(core)
    for upload_id in ("nope", "0" * 32):
        bad = UploadRef(bucket="bucket", key="k", upload_id=upload_id)
        assert await reason_of(core.get_upload(bad)) == ErrorReason.NO_SUCH_UPLOAD
        assert await reason_of(core.list_parts(ListPartsRequest(upload=bad))) == ErrorReason.NO_SUCH_UPLOAD
    upload = await create(core, key="a")
    elsewhere = UploadRef(bucket="bucket", key="b", upload_id=upload.upload_id)
    assert await reason_of(core.get_upload(elsewhere)) == ErrorReason.NO_SUCH_UPLOAD


async def test_list_uploads_with_prefix_delimiter_and_markers(core: MetadataCore) -> None:
    await make_bucket(core)
    made = []
    for key in ("a", "a", "dir/x", "dir/y", "z"):
        made.append(await create(core, key=key))
        await asyncio.sleep(0.002)
    everything = await core.list_uploads(ListUploadsRequest(bucket="bucket", max_uploads=1000))
    assert [u.upload_id for u in everything.uploads] == [u.upload_id for u in made]
    grouped = await core.list_uploads(ListUploadsRequest(bucket="bucket", delimiter="/", max_uploads=1000))
    assert [u.key for u in grouped.uploads] == ["a", "a", "z"] and list(grouped.common_prefixes) == ["dir/"]
    page = await core.list_uploads(ListUploadsRequest(bucket="bucket", max_uploads=1))
    assert page.is_truncated and (page.next_key_marker, page.next_upload_id_marker) == (
        "a",
        made[0].upload_id,
    )
    after = await core.list_uploads(
        ListUploadsRequest(
            bucket="bucket", key_marker="a", upload_id_marker=made[0].upload_id, max_uploads=1000
        )
    )
    assert [u.upload_id for u in after.uploads] == [u.upload_id for u in made[1:]]
    after_key = await core.list_uploads(ListUploadsRequest(bucket="bucket", key_marker="a", max_uploads=1000))
    assert [u.key for u in after_key.uploads] == ["dir/x", "dir/y", "z"]
    prefixed = await core.list_uploads(ListUploadsRequest(bucket="bucket", prefix="dir/", max_uploads=1000))
    assert [u.key for u in prefixed.uploads] == ["dir/x", "dir/y"]


def _reference(
    entries: list[tuple[str, str]],
    prefix: str,
    delimiter: str,
    key_marker: str,
    upload_id_marker: str,
    max_keys: int,
) -> tuple[list[tuple[str, str]], list[str], bool]:
    """A brute-force ListMultipartUploads."""
    items: list[tuple[str, object]] = []
    for key, upload_id in sorted(entries):
        if not key.startswith(prefix):
            continue
        if key_marker and (
            key < key_marker
            or (key == key_marker and (not upload_id_marker or upload_id <= upload_id_marker))
        ):
            continue
        found = key.find(delimiter, len(prefix)) if delimiter else -1
        if found >= 0:
            common = key[: found + len(delimiter)]
            if common <= key_marker or (items and items[-1] == ("prefix", common)):
                continue
            items.append(("prefix", common))
        else:
            items.append(("upload", (key, upload_id)))
    page = items[:max_keys]
    uploads = [value for kind, value in page if kind == "upload"]
    prefixes = [value for kind, value in page if kind == "prefix"]
    return uploads, prefixes, len(items) > max_keys  # type: ignore[return-value]


def test_mpu_machine_matches_a_brute_force_reference() -> None:
    from metanode.kv import MemoryKV

    rng = random.Random(7)
    kv = MemoryKV()
    uid = "0" * 32
    entries: list[tuple[str, str]] = []
    for _ in range(60):
        key = "".join(rng.choice("ab/") for _ in range(rng.randint(1, 4)))
        upload_id = keys.new_upload_id(rng.randint(1, 10**12))
        entries.append((key, upload_id))
        upload = UploadInfo(key=key, upload_id=upload_id)
        kv.write([(keys.upload_key(uid, key, upload_id), keys.encode_record(upload))], [], sync=False)
    for _ in range(300):
        prefix = rng.choice(["", "a", "b/", "a/"])
        delimiter = rng.choice(["", "/", "b"])
        marker_key, marker_id = rng.choice(entries)
        key_marker = rng.choice(["", marker_key, "a/"])
        upload_id_marker = rng.choice(["", marker_id]) if key_marker else ""
        max_keys = rng.randint(0, 8)
        machine = MPU(prefix, delimiter, key_marker, upload_id_marker, max_keys)
        run_listing(kv, machine, keys.upload_prefix(uid))  # type: ignore[arg-type]
        result = machine.result()
        uploads, prefixes, truncated = _reference(
            entries, prefix, delimiter, key_marker, upload_id_marker, max_keys
        )
        assert [(entry.key, entry.upload_id) for entry in result.uploads] == uploads
        assert list(result.common_prefixes) == prefixes
        if max_keys:
            assert result.is_truncated == truncated


async def test_every_multipart_call_round_trips_over_grpc(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from metanode.client import MetadataClient
    from metanode.server import bound_port, open_core, start_server

    served_core = await open_core(str(tmp_path / "meta"))
    server = await start_server(served_core, "127.0.0.1:0")
    client = MetadataClient(f"127.0.0.1:{bound_port(server)}", timeout_s=10)
    try:
        await client.create_bucket(CreateBucketRequest(bucket=BucketInfo(name="bucket", owner_id="alice")))
        upload = await client.create_upload(CreateUploadRequest(upload=UploadInfo(bucket="bucket", key="k")))
        assert (await client.get_upload(ref(upload))).upload_id == upload.upload_id
        part = PartInfo(
            part_number=1, etag=md5_of("x"), size=3, blob=BlobRef(location="l", blob_id="b", size=3)
        )
        await client.put_part(PutPartRequest(upload=ref(upload), part=part))
        assert len((await client.list_parts(ListPartsRequest(upload=ref(upload)))).parts) == 1
        listed = await client.list_uploads(ListUploadsRequest(bucket="bucket", max_uploads=10))
        assert [u.upload_id for u in listed.uploads] == [upload.upload_id]
        done = await client.complete_upload(completion(upload, part))
        assert done.object.etag.endswith("-1")
        other = await client.create_upload(CreateUploadRequest(upload=UploadInfo(bucket="bucket", key="k")))
        await client.abort_upload(ref(other))
        with pytest.raises(StrataError) as caught:
            await client.abort_upload(ref(other))
        assert caught.value.reason == ErrorReason.NO_SUCH_UPLOAD
    finally:
        await client.close()
        await server.stop(grace=None)
        await served_core.close()


async def test_part_start_order_and_bucket_deletion_with_uploads_work_over_grpc(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from metanode.client import MetadataClient
    from metanode.server import bound_port, open_core, start_server

    served_core = await open_core(str(tmp_path / "meta"))
    server = await start_server(served_core, "127.0.0.1:0")
    client = MetadataClient(f"127.0.0.1:{bound_port(server)}", timeout_s=10)
    try:
        await client.create_bucket(CreateBucketRequest(bucket=BucketInfo(name="bucket", owner_id="alice")))
        upload = await client.create_upload(CreateUploadRequest(upload=UploadInfo(bucket="bucket", key="k")))
        parts, intents = {}, {}
        for name in ("earlier", "later"):
            parts[name] = PartInfo(
                part_number=1, etag=md5_of(name), size=3, blob=BlobRef(location="l", blob_id=name, size=3)
            )
            intents[name] = await client.create_intent(
                CreateIntentRequest(bucket="bucket", key="k", blobs=[parts[name].blob])
            )
        assert 0 < intents["earlier"].start_order < intents["later"].start_order
        later = await client.put_part(
            PutPartRequest(upload=ref(upload), part=parts["later"], intent_id=intents["later"].id)
        )
        earlier = await client.put_part(
            PutPartRequest(upload=ref(upload), part=parts["earlier"], intent_id=intents["earlier"].id)
        )
        assert (later.superseded, earlier.superseded) == (False, True)
        listed = await client.list_parts(ListPartsRequest(upload=ref(upload)))
        assert [part.blob.blob_id for part in listed.parts] == ["later"]
        await client.delete_bucket(core_bucket_name())
        assert sorted(await gc_blob_ids(served_core)) == ["earlier", "later"]
    finally:
        await client.close()
        await server.stop(grace=None)
        await served_core.close()
