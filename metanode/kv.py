"""The small sorted key/value interface the metadata core runs on, and its two stores.

Every method here is synchronous and may block: callers run them in a thread
(``asyncio.to_thread`` or the writer's worker), never on the event loop.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence
from typing import Protocol

from rocksdict import Options, Rdict, ReadOptions, WriteBatch, WriteOptions


class KVIterator(Protocol):
    """Ascending (key, value) pairs in [start, end); ``seek`` only moves forward."""

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]: ...
    def __next__(self) -> tuple[bytes, bytes]: ...
    def seek(self, key: bytes) -> None: ...
    def close(self) -> None: ...


class KV(Protocol):
    def get(self, key: bytes) -> bytes | None: ...
    def multi_get(self, keys: Sequence[bytes]) -> list[bytes | None]: ...
    def iterate(self, start: bytes, end: bytes | None = None) -> KVIterator: ...
    def write(self, puts: Sequence[tuple[bytes, bytes]], deletes: Sequence[bytes], sync: bool = True) -> None:
        """Applies every put and delete atomically (keys of ``puts`` and ``deletes`` are disjoint)."""
        ...

    def close(self) -> None: ...


# ---- RocksDB ----


class _RocksIterator:
    def __init__(self, db: Rdict, start: bytes, end: bytes | None) -> None:
        read_options = ReadOptions()
        if end is not None:
            read_options.set_iterate_upper_bound(end)
        # Keeps the options alive as long as the native iterator that borrows the bound.
        self._read_options = read_options
        self._iterator = db.iter(read_options)
        self._iterator.seek(start)
        self._start = start
        self._end = end
        self._pending_next = False
        self._last_key: bytes | None = None

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return self

    def __next__(self) -> tuple[bytes, bytes]:
        if self._pending_next:
            self._iterator.next()
        self._pending_next = True
        if not self._iterator.valid():
            raise StopIteration
        key: bytes = self._iterator.key()
        if self._end is not None and key >= self._end:
            raise StopIteration
        self._last_key = key
        return key, self._iterator.value()

    def seek(self, key: bytes) -> None:
        if key < self._start or (self._last_key is not None and key <= self._last_key):
            return
        self._iterator.seek(key)
        self._pending_next = False

    def close(self) -> None:
        del self._iterator


class RocksKV:
    """RocksDB through rocksdict, raw bytes in and out."""

    def __init__(self, path: str) -> None:
        options = Options(raw_mode=True)
        options.create_if_missing(True)
        self._db = Rdict(path, options)
        self._sync_options = WriteOptions()
        self._sync_options.sync = True
        self._async_options = WriteOptions()
        self.path = path
        self._closed = False

    @property
    def db(self) -> Rdict:
        """The open database (for checkpoints)."""
        return self._db

    def get(self, key: bytes) -> bytes | None:
        return self._db.get(key)

    def multi_get(self, keys: Sequence[bytes]) -> list[bytes | None]:
        if not keys:
            return []
        values = self._db.get(list(keys))
        return list(values or [])

    def iterate(self, start: bytes, end: bytes | None = None) -> KVIterator:
        return _RocksIterator(self._db, start, end)

    def write(self, puts: Sequence[tuple[bytes, bytes]], deletes: Sequence[bytes], sync: bool = True) -> None:
        batch = WriteBatch(raw_mode=True)
        for key in deletes:
            batch.delete(key)
        for key, value in puts:
            batch.put(key, value)
        self._db.write(batch, self._sync_options if sync else self._async_options)

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            self._db.close()


# ---- memory ----


class _MemoryIterator:
    """Re-locates its position on every step, so concurrent writes never invalidate it."""

    def __init__(self, store: MemoryKV, start: bytes, end: bytes | None) -> None:
        self._store = store
        self._next_from = start
        self._inclusive = True
        self._end = end

    def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
        return self

    def __next__(self) -> tuple[bytes, bytes]:
        item = self._store._next_item(self._next_from, self._inclusive)
        if item is None or (self._end is not None and item[0] >= self._end):
            raise StopIteration
        self._next_from, self._inclusive = item[0], False
        return item

    def seek(self, key: bytes) -> None:
        if key > self._next_from or (key == self._next_from and self._inclusive):
            self._next_from, self._inclusive = key, True

    def close(self) -> None:
        pass


class MemoryKV:
    """A sorted in-memory store (the ``mem`` backend, and tests)."""

    def __init__(self) -> None:
        self._keys: list[bytes] = []
        self._values: dict[bytes, bytes] = {}
        self._lock = threading.Lock()

    def get(self, key: bytes) -> bytes | None:
        with self._lock:
            return self._values.get(key)

    def multi_get(self, keys: Sequence[bytes]) -> list[bytes | None]:
        with self._lock:
            return [self._values.get(key) for key in keys]

    def iterate(self, start: bytes, end: bytes | None = None) -> KVIterator:
        return _MemoryIterator(self, start, end)

    def _next_item(self, key: bytes, inclusive: bool) -> tuple[bytes, bytes] | None:
        with self._lock:
            position = (bisect.bisect_left if inclusive else bisect.bisect_right)(self._keys, key)
            if position >= len(self._keys):
                return None
            found = self._keys[position]
            return found, self._values[found]

    def write(self, puts: Sequence[tuple[bytes, bytes]], deletes: Sequence[bytes], sync: bool = True) -> None:
        with self._lock:
            for key in deletes:
                if self._values.pop(key, None) is not None:
                    del self._keys[bisect.bisect_left(self._keys, key)]
            for key, value in puts:
                if key not in self._values:
                    bisect.insort(self._keys, key)
                self._values[key] = value

    def close(self) -> None:
        pass

    def __len__(self) -> int:
        return len(self._values)
