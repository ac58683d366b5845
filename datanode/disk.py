"""Blobs as files on a local filesystem, with per-chunk CRC32C to detect bitrot.

Layout under ``root``::

    root/tmp/<blob_id>.<nonce>.tmp     blobs being written; removed when the backend starts
    root/<id[0:2]>/<id[2:4]>/<blob_id> complete blobs

A blob file is its data followed by a trailer (all integers little-endian)::

    data                       size bytes
    crc table                  CRC32C of each 1 MiB chunk of data, 4 bytes each, ceil(size / 1 MiB) entries
    footer                     16 bytes: magic b"STRB", format version (u32) = 1, size (u64)

The trailer (rather than a sidecar file) keeps a blob one file, so one rename publishes
it, and lets the data be written exactly as it arrives, without buffering or copies.
A write goes to a temporary file, is fdatasync'ed, renamed into place, and the directory
fsync'ed. A read verifies the CRC of every chunk its range touches and seeks straight
to the first one. All file I/O runs in a small thread pool, never on the event loop.

A blob found corrupt (by a read, a Head of its footer, or a scrub) is moved into
``root/quarantine`` (see :mod:`datanode.quarantine`): never served again, reported missing,
kept for inspection until a healed copy is copied back from another replica.

A full disk (``ENOSPC``, or free space under ``reserve_bytes``) fails a put with
``INSUFFICIENT_STORAGE``, and the put's temporary file is removed.

One directory is owned by one backend instance: starting a backend removes any
temporary files left by a previous process.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import errno
import os
import re
import struct
import threading
import uuid
from array import array
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import TypeVar

import crc32c

from datanode import quarantine
from datanode.backend import CHUNK_SIZE, BlobCheck, Pace, blob_not_found, resolve_range, validate_blob_id
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

_FOOTER = struct.Struct("<4sIQ")
_MAGIC = b"STRB"
_FORMAT_VERSION = 1
_CRC_SIZE = 4
_TMP_DIR = "tmp"
_TMP_SUFFIX = ".tmp"
_SHARD_DIR = re.compile(r"[0-9a-f]{2}")
_BLOB_NAME = re.compile(r"[0-9a-f]{32}")
_IO_THREADS = 8
_FULL_DISK_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})

_T = TypeVar("_T")


def _chunk_count(size: int) -> int:
    return (size + CHUNK_SIZE - 1) // CHUNK_SIZE


def _file_size_for(size: int) -> int:
    return size + _CRC_SIZE * _chunk_count(size) + _FOOTER.size


def _corrupt(blob_id: str, why: str) -> StrataError:
    return StrataError(ErrorReason.BLOB_CORRUPT, f"blob {blob_id} is corrupt: {why}")


def _insufficient_storage(blob_id: str, why: str) -> StrataError:
    return StrataError(ErrorReason.INSUFFICIENT_STORAGE, f"no room for blob {blob_id}: {why}")


@contextlib.contextmanager
def _full_disk_is_a_reason(blob_id: str) -> Iterator[None]:
    """A full disk is the caller's cue to write elsewhere, not an internal error."""
    try:
        yield
    except OSError as error:
        if error.errno in _FULL_DISK_ERRNOS:
            raise _insufficient_storage(blob_id, os.strerror(error.errno)) from None
        raise


def free_bytes(path: str) -> int:
    """Bytes an unprivileged writer may still use on the filesystem holding ``path``."""
    stat = os.statvfs(path)
    return stat.f_bavail * stat.f_frsize


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exactly(fd: int, length: int, position: int, blob_id: str) -> bytes:
    data = os.pread(fd, length, position)
    if len(data) != length:
        raise _corrupt(blob_id, f"short read at {position}")
    return data


def _read_size(fd: int, blob_id: str) -> int:
    """The blob's data size, after checking the footer against the file's length."""
    file_size = os.fstat(fd).st_size
    if file_size < _FOOTER.size:
        raise _corrupt(blob_id, "file shorter than its footer")
    magic, version, size = _FOOTER.unpack(_read_exactly(fd, _FOOTER.size, file_size - _FOOTER.size, blob_id))
    if magic != _MAGIC or version != _FORMAT_VERSION:
        raise _corrupt(blob_id, "bad footer")
    if _file_size_for(size) != file_size:
        raise _corrupt(blob_id, "file length does not match its footer")
    return size


class _BlobWriter:
    """The thread side of one put: a temporary file, the running chunk CRCs, then commit or abort.

    A lock serializes calls, so an abort issued while a write is still running in its thread
    waits for it instead of closing the descriptor under it.
    """

    def __init__(self, tmp_path: str, blob_id: str, reserve_bytes: int) -> None:
        self._tmp_path = tmp_path
        self._blob_id = blob_id
        self._reserve_bytes = reserve_bytes
        self._lock = threading.Lock()
        self._check_room(0)
        with _full_disk_is_a_reason(blob_id):
            self._fd: int | None = os.open(tmp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        self._crcs = array("I")
        self._chunk_crc = 0
        self._chunk_filled = 0
        self.size = 0

    def _check_room(self, incoming: int) -> None:
        if (
            self._reserve_bytes
            and free_bytes(os.path.dirname(self._tmp_path)) - incoming < self._reserve_bytes
        ):
            raise _insufficient_storage(
                self._blob_id, f"free space is below the {self._reserve_bytes}-byte reserve"
            )

    def write(self, data: bytes | memoryview) -> None:
        with self._lock:
            if self._fd is None:
                raise StrataError(ErrorReason.INTERNAL, "write after the blob was closed")
            view = memoryview(data)
            self._check_room(len(view))
            with _full_disk_is_a_reason(self._blob_id):
                _write_all(self._fd, view)
            self.size += len(view)
            while view:
                take = min(len(view), CHUNK_SIZE - self._chunk_filled)
                self._chunk_crc = crc32c.crc32c(view[:take], self._chunk_crc)
                self._chunk_filled += take
                view = view[take:]
                if self._chunk_filled == CHUNK_SIZE:
                    self._crcs.append(self._chunk_crc)
                    self._chunk_crc, self._chunk_filled = 0, 0

    def commit(self, final_path: str) -> None:
        with self._lock:
            if self._fd is None:
                raise StrataError(ErrorReason.INTERNAL, "commit after the blob was closed")
            if self._chunk_filled:
                self._crcs.append(self._chunk_crc)
            crc_table = self._crcs if _is_little_endian() else _byteswapped(self._crcs)
            with _full_disk_is_a_reason(self._blob_id):
                _write_all(self._fd, crc_table.tobytes() + _FOOTER.pack(_MAGIC, _FORMAT_VERSION, self.size))
                os.fdatasync(self._fd)
                os.close(self._fd)
                self._fd = None
                final_dir = os.path.dirname(final_path)
                _ensure_dir(final_dir)
                os.rename(self._tmp_path, final_path)
                _fsync_dir(final_dir)

    def abort(self) -> None:
        with self._lock:
            if self._fd is not None:
                os.close(self._fd)
                self._fd = None
            try:
                os.unlink(self._tmp_path)
            except FileNotFoundError:
                pass


def _abort_if_opened(opening: concurrent.futures.Future[_BlobWriter]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().abort()


def _is_little_endian() -> bool:
    return struct.pack("=I", 1) == struct.pack("<I", 1)


def _byteswapped(values: array) -> array:
    swapped = array("I", values)
    swapped.byteswap()
    return swapped


def _ensure_dir(path: str) -> None:
    if os.path.isdir(path):
        return
    os.makedirs(path, exist_ok=True)
    # The new directories' entries must be durable too, or the renamed blob can vanish.
    parent = os.path.dirname(path)
    _fsync_dir(parent)
    _fsync_dir(os.path.dirname(parent))


@dataclass(frozen=True)
class _OpenRange:
    fd: int
    start: int
    end: int
    first_chunk: int
    crcs: tuple[int, ...]  # of the chunks from first_chunk that the range touches
    size: int


OnCorrupt = Callable[[int, StrataError], bool]
"""Called (in the I/O thread) with the open descriptor of a blob found corrupt; True if it was quarantined."""


def _open_range(path: str, blob_id: str, offset: int, length: int, on_corrupt: OnCorrupt) -> _OpenRange:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        raise blob_not_found(blob_id) from None
    try:
        size = _read_size(fd, blob_id)
        start, end = resolve_range(size, offset, length)
        if start == end:
            return _OpenRange(fd, start, end, 0, (), size)
        first_chunk, last_chunk = start // CHUNK_SIZE, (end - 1) // CHUNK_SIZE
        count = last_chunk - first_chunk + 1
        raw = _read_exactly(fd, _CRC_SIZE * count, size + _CRC_SIZE * first_chunk, blob_id)
        crcs = struct.unpack(f"<{count}I", raw)
        return _OpenRange(fd, start, end, first_chunk, crcs, size)
    except StrataError as error:
        if error.reason == ErrorReason.BLOB_CORRUPT:
            on_corrupt(fd, error)
        os.close(fd)
        raise
    except BaseException:
        os.close(fd)
        raise


def _read_chunk(fd: int, blob_id: str, index: int, expected_crc: int, size: int) -> bytes:
    position = index * CHUNK_SIZE
    data = _read_exactly(fd, min(CHUNK_SIZE, size - position), position, blob_id)
    if crc32c.crc32c(data) != expected_crc:
        raise _corrupt(blob_id, f"checksum mismatch in chunk {index}")
    return data


def _head(path: str, blob_id: str, on_corrupt: OnCorrupt) -> int | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        return _read_size(fd, blob_id)
    except StrataError as error:
        if error.reason != ErrorReason.BLOB_CORRUPT:
            raise
        # Quarantined now, so missing: repair and the scrubber see the replica as gone.
        on_corrupt(fd, error)
        return None
    finally:
        os.close(fd)


def _delete(root: str, path: str, blob_id: str) -> None:
    quarantine.release(root, blob_id)
    try:
        os.unlink(path)
    except FileNotFoundError:
        return
    _fsync_dir(os.path.dirname(path))


def _remove_leftover_temporaries(tmp_dir: str) -> int:
    removed = 0
    for entry in os.scandir(tmp_dir):
        if entry.name.endswith(_TMP_SUFFIX):
            os.unlink(entry.path)
            removed += 1
    return removed


def _list_shard_dirs(root: str) -> list[str]:
    shard_dirs: list[str] = []
    for top in os.scandir(root):
        if top.is_dir() and _SHARD_DIR.fullmatch(top.name):
            shard_dirs.extend(
                sub.path for sub in os.scandir(top.path) if sub.is_dir() and _SHARD_DIR.fullmatch(sub.name)
            )
    return shard_dirs


def _list_blob_names(shard_dir: str) -> list[str]:
    try:
        return [entry.name for entry in os.scandir(shard_dir) if _BLOB_NAME.fullmatch(entry.name)]
    except FileNotFoundError:
        return []


def _make_dirs(tmp_dir: str, quarantine_dir: str) -> None:
    os.makedirs(tmp_dir, 0o755, True)
    os.makedirs(quarantine_dir, 0o755, True)


def _check_usable(root: str, tmp_dir: str) -> None:
    os.statvfs(root)
    if not os.access(tmp_dir, os.W_OK | os.X_OK):
        raise PermissionError(f"{tmp_dir} is not writable")


class DiskBackend:
    """Blob files under ``root`` (see the module docstring for the format)."""

    def __init__(self, root: str | os.PathLike[str], *, reserve_bytes: int = 0) -> None:
        """``reserve_bytes``: free space a put never eats into (0: write until the disk is full)."""
        self.root = os.path.abspath(os.fspath(root))
        self.reserve_bytes = reserve_bytes
        self._tmp_dir = os.path.join(self.root, _TMP_DIR)
        self.quarantine_dir = os.path.join(self.root, quarantine.QUARANTINE_DIR)
        self._executor = concurrent.futures.ThreadPoolExecutor(_IO_THREADS, thread_name_prefix="blob-io")
        self._started = False
        self._start_lock = asyncio.Lock()

    def blob_path(self, blob_id: str) -> str:
        return os.path.join(self.root, blob_id[0:2], blob_id[2:4], blob_id)

    async def _run(self, function: Callable[..., _T], *args: object) -> _T:
        # In the caller's context, so what the thread logs (a quarantine) carries the request id.
        context = contextvars.copy_context()
        return await asyncio.wrap_future(self._executor.submit(context.run, function, *args))

    async def start(self) -> None:
        """Creates the directories and removes temporaries left by a crash; idempotent."""
        if self._started:
            return
        async with self._start_lock:
            if not self._started:
                await self._run(_make_dirs, self._tmp_dir, self.quarantine_dir)
                await self._run(_remove_leftover_temporaries, self._tmp_dir)
                self._started = True

    async def put(self, blob_id: str, chunks: AsyncIterator[bytes]) -> int:
        validate_blob_id(blob_id)
        await self.start()
        tmp_path = os.path.join(self._tmp_dir, f"{blob_id}.{uuid.uuid4().hex}{_TMP_SUFFIX}")
        opening = self._executor.submit(_BlobWriter, tmp_path, blob_id, self.reserve_bytes)
        try:
            writer = await asyncio.wrap_future(opening)
        except BaseException:
            opening.add_done_callback(_abort_if_opened)
            raise
        try:
            async for piece in chunks:
                if piece:
                    await self._run(writer.write, piece)
            await self._run(writer.commit, self.blob_path(blob_id))
        except BaseException:
            # Submitted, not awaited: the cleanup runs even if this task is being cancelled again.
            self._executor.submit(writer.abort)
            raise
        return writer.size

    async def get(self, blob_id: str, offset: int = 0, length: int = -1) -> AsyncGenerator[bytes, None]:
        validate_blob_id(blob_id)
        await self.start()
        opened = await self._run(
            _open_range, self.blob_path(blob_id), blob_id, offset, length, self._quarantiner(blob_id)
        )
        pending: concurrent.futures.Future[bytes] | None = None
        try:
            last_index = len(opened.crcs) - 1
            if last_index >= 0:
                pending = self._submit_chunk_read(opened, blob_id, 0)
            for index in range(last_index + 1):
                assert pending is not None
                data = await asyncio.wrap_future(pending)
                # Read ahead one chunk so the disk works while the caller sends this one.
                pending = self._submit_chunk_read(opened, blob_id, index + 1) if index < last_index else None
                chunk_start = (opened.first_chunk + index) * CHUNK_SIZE
                low = max(opened.start - chunk_start, 0)
                high = min(opened.end - chunk_start, len(data))
                yield data if (low, high) == (0, len(data)) else data[low:high]
        finally:
            self._close_after(pending, opened.fd)

    def _submit_chunk_read(
        self, opened: _OpenRange, blob_id: str, index: int
    ) -> concurrent.futures.Future[bytes]:
        context = contextvars.copy_context()
        return self._executor.submit(context.run, self._read_chunk_or_quarantine, opened, blob_id, index)

    def _read_chunk_or_quarantine(self, opened: _OpenRange, blob_id: str, index: int) -> bytes:
        try:
            return _read_chunk(
                opened.fd, blob_id, opened.first_chunk + index, opened.crcs[index], opened.size
            )
        except StrataError as error:
            if error.reason == ErrorReason.BLOB_CORRUPT:
                self._quarantiner(blob_id)(opened.fd, error)
            raise

    def _quarantiner(self, blob_id: str) -> OnCorrupt:
        def quarantine_file(fd: int, error: StrataError) -> bool:
            return quarantine.quarantine(
                self.root, self.blob_path(blob_id), blob_id, quarantine.identity_of(fd), error.message
            )

        return quarantine_file

    @staticmethod
    def _close_after(pending: concurrent.futures.Future[bytes] | None, fd: int) -> None:
        # Closing while a read is in flight could hand its fd number to another file.
        if pending is None or pending.cancel() or pending.done():
            os.close(fd)
        else:
            pending.add_done_callback(lambda _: os.close(fd))

    async def head(self, blob_id: str) -> int | None:
        validate_blob_id(blob_id)
        await self.start()
        return await self._run(_head, self.blob_path(blob_id), blob_id, self._quarantiner(blob_id))

    async def delete(self, blob_id: str) -> None:
        validate_blob_id(blob_id)
        await self.start()
        await self._run(_delete, self.root, self.blob_path(blob_id), blob_id)

    async def list_blobs(self) -> AsyncGenerator[str, None]:
        await self.start()
        for shard_dir in await self._run(_list_shard_dirs, self.root):
            for name in await self._run(_list_blob_names, shard_dir):
                yield name

    async def scrub(self) -> list[str]:
        """Verifies every blob's checksums at full speed; returns the ids of the corrupt (now quarantined)."""
        corrupt = []
        async for blob_id in self.list_blobs():
            if (await self.verify(blob_id)).corrupt:
                corrupt.append(blob_id)
        return corrupt

    async def verify(self, blob_id: str, pace: Pace | None = None) -> BlobCheck:
        validate_blob_id(blob_id)
        await self.start()
        found_corrupt: list[bool] = []

        def note_corrupt(fd: int, error: StrataError) -> bool:
            moved = self._quarantiner(blob_id)(fd, error)
            found_corrupt.append(moved)
            return moved

        try:
            opened = await self._run(_open_range, self.blob_path(blob_id), blob_id, 0, -1, note_corrupt)
        except StrataError as error:
            if error.reason == ErrorReason.BLOB_NOT_FOUND:
                return BlobCheck(0, False)
            if error.reason == ErrorReason.BLOB_CORRUPT:
                # Corrupt only if moved now: else it was deleted or healed since it was opened.
                return BlobCheck(0, any(found_corrupt))
            raise
        checked = 0
        pending: concurrent.futures.Future[bytes] | None = None
        try:
            for index, crc in enumerate(opened.crcs):
                pending = self._executor.submit(
                    _read_chunk, opened.fd, blob_id, opened.first_chunk + index, crc, opened.size
                )
                data = await asyncio.wrap_future(pending)
                length = len(data)
                pending = None
                checked += length
                if pace is not None:
                    await pace(length)
        except StrataError as error:
            if error.reason != ErrorReason.BLOB_CORRUPT:
                raise
            moved = await self._run(note_corrupt, opened.fd, error)
            return BlobCheck(checked, moved)
        finally:
            self._close_after(pending, opened.fd)
        return BlobCheck(checked, False)

    async def unhealed_quarantined(self) -> list[str]:
        await self.start()
        return await self._run(quarantine.unhealed, self.root, self.blob_path)

    async def health(self) -> None:
        try:
            await self.start()
            await self._run(_check_usable, self.root, self._tmp_dir)
        except OSError as error:
            raise StrataError(
                ErrorReason.BACKEND_UNAVAILABLE, f"data directory {self.root} unusable: {error}"
            ) from error

    async def close(self) -> None:
        await asyncio.to_thread(self._executor.shutdown, True)
