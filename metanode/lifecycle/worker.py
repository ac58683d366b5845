"""Applies buckets' lifecycle rules on the metadata node that owns them (the shard leader, or in-process).

Each tick goes through this node's buckets that have a configuration and, for each, reads at most
``batch_size`` versions from where the previous tick stopped (a bounded amount of work per tick,
whatever the bucket's size). A key's versions are planned together (``plan.plan_key``) once the
listing has moved past the key. When a bucket's listing ends, its abandoned multipart uploads are
checked and its scan starts over on a later tick. Every change goes through the core's own
DeleteObject / PutObject / AbortMultipartUpload, so it is made under the object's lock and
replicated like a client's request. The last key each scan finished is kept (``positions``: in
the shard's replicated KV in servers), so a new leader resumes there.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from metanode.lifecycle.plan import Action, ActionKind, VersionView, plan_key, upload_abort_rule
from metanode.lifecycle.positions import MemoryPositions, ScanPositions
from metanode.lifecycle.rules import DAY_MS, LifecycleConfiguration, decode_configuration
from protos.common_pb2 import Empty, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    LISTING_DELIMITER_VERSIONS,
    VERSIONING_ENABLED,
    VERSIONING_SUSPENDED,
    BucketInfo,
    DeleteObjectRequest,
    DeleteObjectResponse,
    GetObjectRequest,
    ListBucketsRequest,
    ListBucketsResponse,
    ListObjectsRequest,
    ListObjectsResponse,
    ListUploadsRequest,
    ListUploadsResponse,
    ObjectMD,
    PutObjectRequest,
    PutObjectResponse,
    UploadRef,
)
from strata.runtime.periodic import PeriodicTask

log = logging.getLogger("metanode.lifecycle")

DEFAULT_BATCH_SIZE = 1000
BUCKETS_PAGE = 1000
# Errors that mean the object or upload changed since it was listed: nothing to do.
GONE = (ErrorReason.NO_SUCH_KEY, ErrorReason.NO_SUCH_VERSION, ErrorReason.NO_SUCH_UPLOAD)


class LifecycleSource(Protocol):
    """What the worker needs from the metadata core."""

    async def list_buckets(self, request: ListBucketsRequest) -> ListBucketsResponse: ...
    async def get_object(self, request: GetObjectRequest) -> ObjectMD: ...
    async def list_objects(self, request: ListObjectsRequest) -> ListObjectsResponse: ...
    async def delete_object(self, request: DeleteObjectRequest) -> DeleteObjectResponse: ...
    async def put_object(self, request: PutObjectRequest) -> PutObjectResponse: ...
    async def list_uploads(self, request: ListUploadsRequest) -> ListUploadsResponse: ...
    async def abort_upload(self, request: UploadRef) -> Empty: ...


@dataclass
class _BucketScan:
    """Where a bucket's scan is: the next listing position and the versions of the key being read."""

    marker: str = ""
    version_id_marker: str = ""
    key: str | None = None
    versions: list[VersionView] = field(default_factory=list)
    finished_key: str = ""  # the last key whose versions were all planned
    saved_key: str = ""  # the position last written to the positions store


@dataclass
class LifecycleStats:
    versions_read: int = 0
    expired: int = 0  # current versions deleted or hidden behind a delete marker
    versions_removed: int = 0  # noncurrent versions and lone delete markers
    uploads_aborted: int = 0


class LifecycleWorker:
    def __init__(
        self,
        core: LifecycleSource,
        interval_s: float = 60.0,
        *,
        day_s: float = DAY_MS / 1000,
        batch_size: int = DEFAULT_BATCH_SIZE,
        clock_ms: Callable[[], int] | None = None,
        positions: ScanPositions | None = None,
    ) -> None:
        if day_s <= 0 or interval_s <= 0 or batch_size <= 0:
            raise ValueError("the lifecycle day, interval and batch size must be positive")
        self._core = core
        self.interval_s = interval_s
        self.day_ms = max(1, int(day_s * 1000))
        self._batch_size = batch_size
        self._clock_ms = clock_ms or (lambda: time.time_ns() // 1_000_000)
        self._scans: dict[str, _BucketScan] = {}
        self._positions = positions if positions is not None else MemoryPositions()
        self._periodic = PeriodicTask("lifecycle", self._logged_tick, lambda: self.interval_s, log)

    def start(self) -> None:
        self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def _logged_tick(self) -> None:
        stats = await self.tick()
        if stats.expired or stats.versions_removed or stats.uploads_aborted:
            log.info(
                "lifecycle: %d objects expired, %d versions removed, %d uploads aborted",
                stats.expired,
                stats.versions_removed,
                stats.uploads_aborted,
            )

    async def tick(self) -> LifecycleStats:
        """One bounded step of every configured bucket's scan."""
        stats = LifecycleStats()
        configured = await self._configured_buckets()
        for uid in set(self._scans) - {bucket.uid for bucket in configured}:
            del self._scans[uid]  # the bucket is gone or lost its configuration
        for bucket in configured:
            try:
                configuration = decode_configuration(bucket.lifecycle)
            except (ValueError, KeyError, TypeError):
                log.error("bucket %s has an unreadable lifecycle configuration", bucket.name)
                continue
            try:
                await self._step(bucket, configuration, stats)
            except StrataError as error:
                # A key's versions half read cannot be planned: the bucket starts over next time.
                self._scans.pop(bucket.uid, None)
                if error.reason != ErrorReason.NO_SUCH_BUCKET:
                    log.warning(
                        "lifecycle of bucket %s stopped for this tick: %s", bucket.name, error.message
                    )
            except BaseException:
                self._scans.pop(bucket.uid, None)
                raise
        return stats

    async def _configured_buckets(self) -> list[BucketInfo]:
        found: list[BucketInfo] = []
        start_after = ""
        while True:
            page = await self._core.list_buckets(
                ListBucketsRequest(start_after=start_after, max_buckets=BUCKETS_PAGE)
            )
            found.extend(bucket for bucket in page.buckets if bucket.lifecycle)
            if not page.is_truncated or not page.buckets:
                return found
            start_after = page.buckets[-1].name

    async def _step(
        self, bucket: BucketInfo, configuration: LifecycleConfiguration, stats: LifecycleStats
    ) -> None:
        scan = self._scans.get(bucket.uid)
        if scan is None:
            resumed = await self._positions.load(bucket.uid)
            scan = self._scans[bucket.uid] = _BucketScan(
                marker=resumed, finished_key=resumed, saved_key=resumed
            )
        page = await self._core.list_objects(
            ListObjectsRequest(
                bucket=bucket.name,
                listing_type=LISTING_DELIMITER_VERSIONS,
                marker=scan.marker,
                version_id_marker=scan.version_id_marker,
                max_keys=self._batch_size,
            )
        )
        stats.versions_read += len(page.entries)
        now_ms = self._clock_ms()
        for entry in page.entries:
            if entry.key != scan.key:
                await self._finish_key(bucket, configuration, scan, now_ms, stats)
                scan.key = entry.key
            scan.versions.append(_view(entry.object))
        if page.is_truncated and page.entries:
            scan.marker = page.next_marker or page.entries[-1].key
            scan.version_id_marker = page.next_version_id_marker
            if scan.finished_key != scan.saved_key:
                await self._positions.save(bucket.uid, scan.finished_key)
                scan.saved_key = scan.finished_key
            return
        await self._finish_key(bucket, configuration, scan, now_ms, stats)
        await self._abort_uploads(bucket, configuration, now_ms, stats)
        self._scans.pop(bucket.uid, None)  # the next tick starts this bucket over
        if scan.saved_key:
            await self._positions.save(bucket.uid, "")

    async def _finish_key(
        self,
        bucket: BucketInfo,
        configuration: LifecycleConfiguration,
        scan: _BucketScan,
        now_ms: int,
        stats: LifecycleStats,
    ) -> None:
        if scan.key is None:
            return
        actions = plan_key(configuration, scan.key, scan.versions, now_ms, self.day_ms)
        latest = scan.versions[0] if scan.versions else None
        scan.finished_key = scan.key
        scan.key, scan.versions = None, []
        for action in actions:
            planned_ms = latest.last_modified_ms if latest is not None else 0
            if action.kind is ActionKind.EXPIRE_CURRENT and not planned_ms:
                continue
            if await self._apply(bucket, action, planned_ms):
                if action.kind is ActionKind.EXPIRE_CURRENT:
                    stats.expired += 1
                else:
                    stats.versions_removed += 1

    async def _apply(self, bucket: BucketInfo, action: Action, planned_ms: int) -> bool:
        """Applies one action. Expiring the current version is conditioned on it still being the
        one the plan read (``planned_ms``), checked by the core under the object's lock: an
        overwrite committed since the listing is never removed."""
        try:
            if action.kind is ActionKind.REMOVE_VERSION:
                await self._core.delete_object(
                    DeleteObjectRequest(
                        bucket=bucket.name,
                        key=action.key,
                        version_id=action.version_id or "null",
                        has_version_id=True,
                    )
                )
            elif bucket.versioning in (VERSIONING_ENABLED, VERSIONING_SUSPENDED):
                request = _delete_marker_request(bucket, action.key)
                request.if_current_modified_ms = planned_ms
                await self._core.put_object(request)
            else:
                await self._core.delete_object(
                    DeleteObjectRequest(bucket=bucket.name, key=action.key, if_current_modified_ms=planned_ms)
                )
        except StrataError as error:
            if error.reason in GONE or error.reason == ErrorReason.PRECONDITION_FAILED:
                return False
            raise
        log.debug("lifecycle rule %s: %s %s %s", action.rule_id, action.kind.value, bucket.name, action.key)
        return True

    async def _abort_uploads(
        self, bucket: BucketInfo, configuration: LifecycleConfiguration, now_ms: int, stats: LifecycleStats
    ) -> None:
        if not any(rule.abort_days is not None for rule in configuration.enabled_rules):
            return
        key_marker, upload_id_marker = "", ""
        while True:
            page = await self._core.list_uploads(
                ListUploadsRequest(
                    bucket=bucket.name,
                    key_marker=key_marker,
                    upload_id_marker=upload_id_marker,
                    max_uploads=self._batch_size,
                )
            )
            for upload in page.uploads:
                if (
                    upload_abort_rule(configuration, upload.key, upload.initiated_ms, now_ms, self.day_ms)
                    is None
                ):
                    continue
                try:
                    await self._core.abort_upload(
                        UploadRef(bucket=bucket.name, key=upload.key, upload_id=upload.upload_id)
                    )
                except StrataError as error:
                    if error.reason not in GONE:
                        raise
                    continue
                stats.uploads_aborted += 1
            if not page.is_truncated or not page.uploads:
                return
            key_marker, upload_id_marker = page.next_key_marker, page.next_upload_id_marker


def _view(record: ObjectMD) -> VersionView:
    return VersionView(
        version_id=record.version_id,
        last_modified_ms=record.last_modified_ms,
        size=record.size,
        tags=dict(record.tags),
        is_delete_marker=record.is_delete_marker,
    )


def _delete_marker_request(bucket: BucketInfo, key: str) -> PutObjectRequest:
    """The delete marker a DeleteObject without a version id adds (gateway/api/object_delete.py)."""
    marker = ObjectMD(key=key, is_delete_marker=True, owner_id=bucket.owner_id)
    marker.owner_display_name = bucket.owner_display_name
    request = PutObjectRequest(bucket=bucket.name, object=marker)
    if bucket.versioning == VERSIONING_ENABLED:
        request.versioning = True
    else:  # suspended: the marker becomes the null version, replacing the previous one
        request.has_version_id = True
        request.version_id = ""
        request.object.is_null = True
    return request
