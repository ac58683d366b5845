"""Listing algorithms as pure state machines over a sorted stream of keys (DESIGN section 5).

A machine sees listing keys in ascending order (an object key, or
``key\\0<version-id>`` for a version) and answers each with ACCEPT, SKIP or
END. After any answer but END it may name a key to seek to, so a whole common
prefix (or all versions of a key) is jumped over instead of walked. It knows
nothing about the store: :func:`run_listing` feeds it from any ``KV``.

Markers are exclusive. A key whose common prefix sorts at or before the marker
is skipped, so a page that ended on a common prefix never repeats it.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from metanode import keys
from metanode.kv import KV
from protos.metadata_pb2 import ObjectMD

MAX_CODE_POINT = 0x10FFFF
# The smallest string after every version key of ``key``: the separator is NUL, so "\x01" follows.
_AFTER_VERSIONS = "\x01"


class FilterResult(enum.Enum):
    ACCEPT = "accept"
    SKIP = "skip"
    END = "end"


ACCEPT = FilterResult.ACCEPT
SKIP = FilterResult.SKIP
END = FilterResult.END

Decoder = Callable[[bytes], ObjectMD]


@dataclass(frozen=True)
class ListingEntry:
    key: str
    record: ObjectMD
    version_id: str | None = None  # internal id in a versions listing ("" for a master-only null version)


@dataclass(frozen=True)
class ListingResult:
    entries: tuple[ListingEntry, ...] = ()
    common_prefixes: tuple[str, ...] = ()
    is_truncated: bool = False
    next_marker: str = ""
    next_version_id_marker: str = ""


class ListingMachine(Protocol):
    max_keys: int

    def first_key(self) -> str: ...
    def filter(self, key: str, value: bytes) -> FilterResult: ...
    def skipping(self) -> str | None: ...
    def finish(self) -> None: ...
    def result(self) -> ListingResult: ...


def after_prefix(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None if none exists)."""
    trimmed = prefix.rstrip(chr(MAX_CODE_POINT))
    if not trimmed:
        return None
    return trimmed[:-1] + chr(ord(trimmed[-1]) + 1)


@dataclass
class _Page:
    """What a listing has collected so far; shared by every machine."""

    max_keys: int
    entries: list[ListingEntry] = field(default_factory=list)
    common_prefixes: list[str] = field(default_factory=list)
    is_truncated: bool = False
    last_common_prefix: str | None = None
    last_was_prefix: bool = False

    def full(self) -> bool:
        return len(self.entries) + len(self.common_prefixes) >= self.max_keys

    def add_entry(self, entry: ListingEntry) -> FilterResult:
        if self.full():
            self.is_truncated = True
            return END
        self.entries.append(entry)
        self.last_was_prefix = False
        return ACCEPT

    def add_common_prefix(self, common_prefix: str) -> FilterResult:
        if self.full():
            self.is_truncated = True
            return END
        self.common_prefixes.append(common_prefix)
        self.last_common_prefix = common_prefix
        self.last_was_prefix = True
        return ACCEPT

    def result(self) -> ListingResult:
        next_marker = next_version_id_marker = ""
        if self.is_truncated:
            if self.last_was_prefix and self.last_common_prefix is not None:
                next_marker = self.last_common_prefix
            elif self.entries:
                last = self.entries[-1]
                next_marker = last.key
                if last.version_id is not None:
                    # A master listed as a version sits at the master's position: "null" names it.
                    next_version_id_marker = last.version_id or keys.NULL_VERSION_ID
        return ListingResult(
            entries=tuple(self.entries),
            common_prefixes=tuple(self.common_prefixes),
            is_truncated=self.is_truncated,
            next_marker=next_marker,
            next_version_id_marker=next_version_id_marker,
        )


class _Base:
    def __init__(
        self,
        prefix: str = "",
        delimiter: str = "",
        marker: str = "",
        max_keys: int = 1000,
        decode: Decoder = keys.decode_object,
    ) -> None:
        if max_keys < 0:
            raise ValueError("max_keys must not be negative")
        self.prefix = prefix
        self.delimiter = delimiter
        self.marker = marker
        self.max_keys = max_keys
        self._decode = decode
        self._page = _Page(max_keys)
        self._skip_to: str | None = None

    def first_key(self) -> str:
        return max(self.prefix, self.marker)

    def skipping(self) -> str | None:
        return self._skip_to

    def finish(self) -> None:
        pass

    def result(self) -> ListingResult:
        return self._page.result()

    def _common_prefix(self, key: str) -> str | None:
        if not self.delimiter:
            return None
        found = key.find(self.delimiter, len(self.prefix))
        return None if found < 0 else key[: found + len(self.delimiter)]

    def _outside_prefix(self, key: str) -> FilterResult | None:
        if key.startswith(self.prefix):
            return None
        return END if key > self.prefix else SKIP

    def _handle_common_prefix(self, common_prefix: str) -> FilterResult:
        """Every key under ``common_prefix`` collapses into it; then seek past them all."""
        self._skip_to = after_prefix(common_prefix)
        if common_prefix <= self.marker or common_prefix == self._page.last_common_prefix:
            return SKIP
        return self._page.add_common_prefix(common_prefix)


class Delimiter(_Base):
    """Plain keys, no versioning awareness (version keys are listed like any key)."""

    def filter(self, key: str, value: bytes) -> FilterResult:
        self._skip_to = None
        outside = self._outside_prefix(key)
        if outside is not None:
            return outside
        if key <= self.marker:
            return SKIP
        common_prefix = self._common_prefix(key)
        if common_prefix is not None:
            return self._handle_common_prefix(common_prefix)
        return self._page.add_entry(ListingEntry(key, self._decode(value)))


class DelimiterMaster(_Base):
    """Current versions only: version keys, delete markers and placeholder (PHD) masters are hidden.

    A PHD master stands for "the newest version below me is current", so the
    first version key after it is listed in its place.
    """

    def __init__(
        self,
        prefix: str = "",
        delimiter: str = "",
        marker: str = "",
        max_keys: int = 1000,
        decode: Decoder = keys.decode_object,
    ) -> None:
        super().__init__(prefix, delimiter, marker, max_keys, decode)
        self._phd_key: str | None = None

    def filter(self, key: str, value: bytes) -> FilterResult:
        self._skip_to = None
        object_key, version_id = keys.split_listing_key(key)
        outside = self._outside_prefix(object_key)
        if outside is not None:
            return outside
        if version_id is None:
            self._phd_key = None
            if object_key <= self.marker:
                self._skip_to = object_key + _AFTER_VERSIONS
                return SKIP
            record = self._decode(value)
            if record.is_phd:
                self._phd_key = object_key
                return SKIP
            return self._current(object_key, record)
        if self._phd_key == object_key:
            self._phd_key = None
            return self._current(object_key, self._decode(value))
        self._skip_to = object_key + _AFTER_VERSIONS
        return SKIP

    def _current(self, object_key: str, record: ObjectMD) -> FilterResult:
        common_prefix = self._common_prefix(object_key)
        if common_prefix is not None and (
            common_prefix <= self.marker or common_prefix == self._page.last_common_prefix
        ):
            self._skip_to = after_prefix(common_prefix)
            return SKIP
        if record.is_delete_marker:
            self._skip_to = object_key + _AFTER_VERSIONS
            return SKIP
        if common_prefix is not None:
            return self._handle_common_prefix(common_prefix)
        self._skip_to = object_key + _AFTER_VERSIONS
        return self._page.add_entry(ListingEntry(object_key, record))


class DelimiterVersions(_Base):
    """Every version of every key, newest first per key; a master with no version key of its own
    (a null version written with ``versionId: ''`` or before versioning) is listed as a version.

    ``version_id_marker``: "" starts after every version of ``marker``; ``null`` starts right after
    the master of ``marker``; an internal id starts after that version.
    """

    def __init__(
        self,
        prefix: str = "",
        delimiter: str = "",
        marker: str = "",
        max_keys: int = 1000,
        decode: Decoder = keys.decode_object,
        version_id_marker: str = "",
    ) -> None:
        super().__init__(prefix, delimiter, marker, max_keys, decode)
        self.version_id_marker = version_id_marker if marker else ""
        self._pending_master: tuple[str, ObjectMD] | None = None
        self._ended = False

    def first_key(self) -> str:
        return max(self.prefix, self._start_after() or "")

    def _start_after(self) -> str | None:
        """Listing keys up to and including this one are before the page (None: after all of marker)."""
        if not self.marker or not self.version_id_marker:
            return None
        if self.version_id_marker == keys.NULL_VERSION_ID:
            return self.marker
        return self.marker + keys.VERSION_SEPARATOR + self.version_id_marker

    def _before_page(self, key: str, object_key: str) -> bool:
        start_after = self._start_after()
        if start_after is None:
            return object_key <= self.marker
        return key <= start_after

    def filter(self, key: str, value: bytes) -> FilterResult:
        self._skip_to = None
        object_key, version_id = keys.split_listing_key(key)
        outside = self._outside_prefix(object_key)
        if outside is not None:
            return self._flush_then(outside)
        if self._pending_master is not None:
            pending_key, pending = self._pending_master
            if version_id is not None and object_key == pending_key and version_id == pending.version_id:
                self._pending_master = None  # the master is this version: list it once
            elif self._flush() is END:
                return END
        if self._before_page(key, object_key):
            if self._start_after() is None:
                self._skip_to = object_key + _AFTER_VERSIONS
            return SKIP
        common_prefix = self._common_prefix(object_key)
        if common_prefix is not None:
            return self._handle_common_prefix(common_prefix)
        record = self._decode(value)
        if version_id is None:
            if not record.is_phd:
                self._pending_master = (object_key, record)
            return SKIP
        return self._page.add_entry(ListingEntry(object_key, record, version_id))

    def _flush(self) -> FilterResult:
        if self._pending_master is None:
            return SKIP
        object_key, record = self._pending_master
        self._pending_master = None
        outcome = self._page.add_entry(ListingEntry(object_key, record, record.version_id))
        if outcome is END:
            self._ended = True
        return outcome

    def _flush_then(self, outcome: FilterResult) -> FilterResult:
        return END if self._flush() is END else outcome

    def finish(self) -> None:
        if not self._ended:
            self._flush()


def run_listing(kv: KV, machine: ListingMachine, key_prefix: bytes) -> ListingResult:
    """Feeds ``machine`` the keys under ``key_prefix`` (blocking: run it in a thread)."""
    if machine.max_keys == 0:
        return machine.result()
    iterator = kv.iterate(keys.raw_listing_key(key_prefix, machine.first_key()), keys.prefix_end(key_prefix))
    try:
        for raw_key, raw_value in iterator:
            if machine.filter(keys.listing_key(key_prefix, raw_key), raw_value) is END:
                break
            target = machine.skipping()
            if target is not None:
                raw_target = keys.raw_listing_key(key_prefix, target)
                if raw_target > raw_key:
                    iterator.seek(raw_target)
        else:
            machine.finish()
    finally:
        iterator.close()
    return machine.result()
