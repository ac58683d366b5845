"""The ``MPU`` listing: multipart uploads in progress, as a pure state machine (DESIGN section 5).

It is fed the listing keys under a bucket's upload prefix, ``<key>\\0<upload-id>``
in ascending order (upload ids sort by initiation time, so uploads of one key come
oldest first, as S3 lists them), and plugs into :func:`metanode.listing.run_listing`.

Markers follow ListMultipartUploads: ``key_marker`` alone starts after every upload
of that key; with ``upload_id_marker`` it starts after that upload of that key. A
common prefix at or before ``key_marker`` is never repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from metanode import keys
from metanode.listing import ACCEPT, END, SKIP, FilterResult, after_prefix
from protos.metadata_pb2 import UploadInfo

# The smallest string after every ``key\0<upload-id>`` of a key: the separator is NUL.
_AFTER_UPLOADS = "\x01"


@dataclass(frozen=True)
class UploadEntry:
    key: str
    upload_id: str
    upload: UploadInfo


@dataclass(frozen=True)
class UploadListing:
    uploads: tuple[UploadEntry, ...] = ()
    common_prefixes: tuple[str, ...] = ()
    is_truncated: bool = False
    next_key_marker: str = ""
    next_upload_id_marker: str = ""


@dataclass
class MPU:
    """ListMultipartUploads over ``key\\0upload-id`` listing keys."""

    prefix: str = ""
    delimiter: str = ""
    key_marker: str = ""
    upload_id_marker: str = ""
    max_keys: int = 1000
    decode: Callable[[bytes], UploadInfo] = field(default=keys.decode_upload)
    _uploads: list[UploadEntry] = field(default_factory=list)
    _common_prefixes: list[str] = field(default_factory=list)
    _truncated: bool = False
    _last_was_prefix: bool = False
    _skip_to: str | None = None

    def __post_init__(self) -> None:
        if self.max_keys < 0:
            raise ValueError("max_keys must not be negative")
        if not self.key_marker:
            self.upload_id_marker = ""

    def _start_after(self) -> str:
        """Listing keys up to and including this one precede the page ("" when there is no marker)."""
        if not self.key_marker:
            return ""
        if self.upload_id_marker:
            return self.key_marker + keys.VERSION_SEPARATOR + self.upload_id_marker
        return self.key_marker + _AFTER_UPLOADS

    def first_key(self) -> str:
        return max(self.prefix, self._start_after())

    def skipping(self) -> str | None:
        return self._skip_to

    def finish(self) -> None:
        pass

    def _full(self) -> bool:
        return len(self._uploads) + len(self._common_prefixes) >= self.max_keys

    def filter(self, key: str, value: bytes) -> FilterResult:
        self._skip_to = None
        object_key, upload_id = keys.split_listing_key(key)
        if not object_key.startswith(self.prefix):
            return END if object_key > self.prefix else SKIP
        start_after = self._start_after()
        if start_after and key <= start_after:
            return SKIP
        common_prefix = self._common_prefix(object_key)
        if common_prefix is not None:
            self._skip_to = after_prefix(common_prefix)
            if common_prefix <= self.key_marker or (
                self._common_prefixes and self._common_prefixes[-1] == common_prefix
            ):
                return SKIP
            if self._full():
                self._truncated = True
                return END
            self._common_prefixes.append(common_prefix)
            self._last_was_prefix = True
            return ACCEPT
        if self._full():
            self._truncated = True
            return END
        self._uploads.append(UploadEntry(object_key, upload_id or "", self.decode(value)))
        self._last_was_prefix = False
        return ACCEPT

    def _common_prefix(self, key: str) -> str | None:
        if not self.delimiter:
            return None
        found = key.find(self.delimiter, len(self.prefix))
        return None if found < 0 else key[: found + len(self.delimiter)]

    def result(self) -> UploadListing:
        next_key_marker = next_upload_id_marker = ""
        if self._truncated:
            if self._last_was_prefix:
                next_key_marker = self._common_prefixes[-1]
            elif self._uploads:
                next_key_marker = self._uploads[-1].key
                next_upload_id_marker = self._uploads[-1].upload_id
        return UploadListing(
            uploads=tuple(self._uploads),
            common_prefixes=tuple(self._common_prefixes),
            is_truncated=self._truncated,
            next_key_marker=next_key_marker,
            next_upload_id_marker=next_upload_id_marker,
        )
