"""The replicated log inside a replica's RocksDB.

Every replica stores each entry it holds under ``L<index>`` in the same WriteBatch that
applies it, with the log's tip (``last-log-index``, ``last-log-term``). Old entries are
trimmed: ``log-base`` is then the position just before the first entry kept, so a
follower whose log ends there can still be matched. A replica's state is always exactly
the application of its log: followers apply entries as they store them; the leader
answers clients only once its batches are committed (``leader``).

Every function here blocks: call them off the event loop.
"""

from __future__ import annotations

from dataclasses import dataclass

from metanode import keys
from metanode.kv import KV
from metanode.writer import LogEntry
from protos.metadata_pb2 import LogRecord

TRIM_CHUNK = 1000


@dataclass(frozen=True)
class Position:
    index: int
    term: int


def tip(kv: KV) -> Position:
    """Where the log ends."""
    index_raw, term_raw = kv.multi_get([keys.LAST_LOG_INDEX_KEY, keys.LAST_LOG_TERM_KEY])
    return Position(keys.decode_counter(index_raw), keys.decode_counter(term_raw))


def base(kv: KV) -> Position:
    """The position just before the first retained entry ((0, 0): nothing was ever trimmed)."""
    index, term = keys.decode_position(kv.get(keys.LOG_BASE_KEY))
    return Position(index, term)


def _decode_record(raw: bytes) -> LogRecord:
    record = LogRecord()
    record.ParseFromString(raw[1:])
    return record


def term_at(kv: KV, index: int) -> int | None:
    """The term of the entry at ``index``; None if this log has no such entry (trimmed or beyond)."""
    if index == 0:
        return 0
    raw = kv.get(keys.log_key(index))
    if raw is not None:
        return _decode_record(raw).term
    trimmed_to = base(kv)
    return trimmed_to.term if trimmed_to.index == index else None


def read(kv: KV, first: int, last: int, max_bytes: int = 4 << 20) -> list[LogEntry] | None:
    """Entries ``first..last`` (fewer if they pass ``max_bytes``); None if ``first`` was trimmed."""
    entries: list[LogEntry] = []
    size = 0
    iterator = kv.iterate(keys.log_key(first), keys.log_key(last + 1))
    try:
        for raw_key, raw in iterator:
            index = keys.log_index_from_key(raw_key)
            if index != first + len(entries):
                return None if not entries else entries
            entries.append(LogEntry.from_record(_decode_record(raw)))
            size += len(raw)
            if size >= max_bytes:
                break
    finally:
        iterator.close()
    return entries or None


def trim(kv: KV, retain: int) -> int:
    """Drops the oldest entries so at most about ``retain`` remain; returns how many were dropped."""
    end = tip(kv)
    start = base(kv)
    new_base = end.index - retain
    if new_base <= start.index:
        return 0
    dropped = 0
    first = start.index + 1
    while first <= new_base:
        chunk_last = min(new_base, first + TRIM_CHUNK - 1)
        base_term = term_at(kv, chunk_last)
        if base_term is None:  # nothing there (already trimmed by a crash-interrupted pass)
            base_term = 0
        kv.write(
            [(keys.LOG_BASE_KEY, keys.encode_position(chunk_last, base_term))],
            [keys.log_key(index) for index in range(first, chunk_last + 1)],
            sync=False,
        )
        dropped += chunk_last - first + 1
        first = chunk_last + 1
    return dropped
