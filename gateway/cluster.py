"""The gateway's cluster-mode MetadataPort: each bucket's calls go to its shard's leader.

Buckets are assigned to shards in etcd when they are created (a create-if-absent claim,
which also keeps names unique cluster-wide); a new bucket goes to the shard holding the
fewest. Leaders are found through the shard map (``ShardWatcher``). A call refused
with NOT_LEADER, or that cannot reach a leader, is retried with bounded backoff while
the request's wait budget lasts, then answered 503. A write whose connection broke
after it was sent is never retried here: its outcome is unknown (the client may retry).
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Awaitable, Callable, Iterable
from typing import TypeVar

from coordinator.buckets import assign_bucket, bucket_shard, list_bucket_shards, release_bucket
from coordinator.etcd import EtcdClient
from coordinator.shards import ShardWatcher
from metanode.client import MetadataClient
from protos.common_pb2 import Empty, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import (
    AbortIntentRequest,
    BucketInfo,
    BucketName,
    CompleteUploadRequest,
    CompleteUploadResponse,
    CreateBucketRequest,
    CreateIntentRequest,
    CreateUploadRequest,
    DeleteObjectRequest,
    DeleteObjectResponse,
    GetObjectRequest,
    Intent,
    ListBucketsRequest,
    ListBucketsResponse,
    ListObjectsRequest,
    ListObjectsResponse,
    ListPartsRequest,
    ListPartsResponse,
    ListUploadsRequest,
    ListUploadsResponse,
    ObjectMD,
    PutObjectRequest,
    PutObjectResponse,
    PutPartRequest,
    PutPartResponse,
    QueueGarbageRequest,
    RenewIntentRequest,
    RepairStatusResponse,
    RunGcRequest,
    RunGcResponse,
    RunRepairRequest,
    RunRepairResponse,
    UploadInfo,
    UploadRef,
)

log = logging.getLogger("gateway.cluster")

T = TypeVar("T")
DEFAULT_LEADER_WAIT_S = 10.0
_CONNECT_WAIT_S = 1.0
# Refused before anything ran: safe to send again to the (next) leader.
_REFUSED = frozenset({ErrorReason.NOT_LEADER, ErrorReason.STALE_EPOCH})


def leader_wait_s() -> float:
    """STRATA_LEADER_WAIT: seconds a request waits for its shard to have a reachable leader."""
    raw = os.environ.get("STRATA_LEADER_WAIT", "")
    try:
        return float(raw) if raw else DEFAULT_LEADER_WAIT_S
    except ValueError:
        return DEFAULT_LEADER_WAIT_S


class ClusterMetadata:
    def __init__(
        self,
        etcd: EtcdClient,
        cluster: str,
        shards: ShardWatcher,
        *,
        wait_s: float | None = None,
        timeout_s: float = 30.0,
    ) -> None:
        self._etcd = etcd
        self._cluster = cluster
        self._shards = shards
        self._wait_s = leader_wait_s() if wait_s is None else wait_s
        self._timeout_s = timeout_s
        self._clients: dict[str, MetadataClient] = {}
        self._bucket_shards: dict[str, str] = {}

    async def close(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.close()

    def _client(self, address: str) -> MetadataClient:
        client = self._clients.get(address)
        if client is None:
            client = self._clients[address] = MetadataClient(address, timeout_s=self._timeout_s)
        return client

    # ---- routing ----

    async def _shard_of(self, bucket: str, refresh: bool = False) -> str:
        shard = None if refresh else self._bucket_shards.get(bucket)
        if shard is None:
            shard = await bucket_shard(self._etcd, self._cluster, bucket)
            if shard is None:
                self._bucket_shards.pop(bucket, None)
                raise StrataError(ErrorReason.NO_SUCH_BUCKET, f"no such bucket: {bucket}")
            self._bucket_shards[bucket] = shard
        return shard

    async def _on_shard(
        self,
        shard: str,
        call: Callable[[MetadataClient], Awaitable[T]],
        *,
        idempotent: bool,
        wait_s: float | None = None,
    ) -> T:
        """Runs ``call`` on the shard's leader, waiting out elections within the wait budget."""
        deadline = time.monotonic() + (self._wait_s if wait_s is None else wait_s)
        delay_s = 0.02
        why = f"shard {shard} has no leader"
        while True:
            leader = self._shards.leader(shard)
            if leader is not None:
                client = self._client(leader.address)
                if await client.connected(min(_CONNECT_WAIT_S, max(0.05, deadline - time.monotonic()))):
                    try:
                        return await self._watching_leader(shard, leader.address, client, call, idempotent)
                    except StrataError as error:
                        transport = error.reason == ErrorReason.BACKEND_UNAVAILABLE
                        if not (error.reason in _REFUSED or (transport and idempotent)):
                            raise
                        why = f"shard {shard}: {error.message}"
                else:
                    why = f"shard {shard}'s leader {leader.node_id} cannot be reached"
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                log.warning("giving up on %s", why)
                raise StrataError(ErrorReason.BACKEND_UNAVAILABLE, why)
            await self._shards.wait_for_change(min(delay_s, remaining))
            delay_s = min(delay_s * 2, 0.5)

    async def _watching_leader(
        self,
        shard: str,
        address: str,
        client: MetadataClient,
        call: Callable[[MetadataClient], Awaitable[T]],
        idempotent: bool,
    ) -> T:
        """The call, abandoned if the shard elects another leader meanwhile (the old one may hang)."""
        running = asyncio.ensure_future(call(client))
        try:
            while True:
                done, _ = await asyncio.wait({running}, timeout=0.25)
                if done:
                    return running.result()
                current = self._shards.leader(shard)
                if current is not None and current.address != address:
                    running.cancel()
                    reason = ErrorReason.NOT_LEADER if idempotent else ErrorReason.OUTCOME_UNKNOWN
                    raise StrataError(reason, f"shard {shard} elected another leader during the call")
        finally:
            if not running.done():
                running.cancel()

    async def _on_bucket(
        self, bucket: str, call: Callable[[MetadataClient], Awaitable[T]], *, idempotent: bool = False
    ) -> T:
        shard = await self._shard_of(bucket)
        try:
            return await self._on_shard(shard, call, idempotent=idempotent)
        except StrataError as error:
            if error.reason != ErrorReason.NO_SUCH_BUCKET:
                raise
            # Deleted and created again on another shard (through another gateway)?
            moved = await self._shard_of(bucket, refresh=True)
            if moved == shard:
                raise
            return await self._on_shard(moved, call, idempotent=idempotent)

    async def _on_every_shard(
        self, call: Callable[[MetadataClient], Awaitable[T]], *, idempotent: bool = True
    ) -> list[T]:
        shards = self._shards.shards()
        if not shards:
            raise StrataError(ErrorReason.BACKEND_UNAVAILABLE, "no metadata shard is registered")
        return list(
            await asyncio.gather(*(self._on_shard(shard, call, idempotent=idempotent) for shard in shards))
        )

    async def _pick_shard(self) -> str:
        """The shard with the fewest buckets (a shard just added gets the next ones)."""
        shards = self._shards.shards()
        if not shards:
            raise StrataError(ErrorReason.BACKEND_UNAVAILABLE, "no metadata shard is registered")
        counts = dict.fromkeys(shards, 0)
        for shard in (await list_bucket_shards(self._etcd, self._cluster)).values():
            if shard in counts:
                counts[shard] += 1
        return min(shards, key=lambda shard: (counts[shard], shard))

    # ---- buckets ----

    async def create_bucket(self, request: CreateBucketRequest) -> BucketInfo:
        name = request.bucket.name
        created, shard = await assign_bucket(self._etcd, self._cluster, name, await self._pick_shard())
        self._bucket_shards[name] = shard
        request.bucket.shard = shard
        if not created:
            # The name is claimed: it is ours to (re)create only if no metanode has it (a crash in between).
            try:
                await self.get_bucket(BucketName(name=name))
            except StrataError as error:
                if error.reason != ErrorReason.NO_SUCH_BUCKET:
                    raise
        try:
            return await self._on_shard(shard, lambda client: client.create_bucket(request), idempotent=False)
        except StrataError as error:
            if created and error.reason not in (ErrorReason.BUCKET_EXISTS, ErrorReason.BUCKET_OWNED_BY_YOU):
                if error.reason != ErrorReason.OUTCOME_UNKNOWN:
                    await release_bucket(self._etcd, self._cluster, name)
            raise

    async def get_bucket(self, request: BucketName) -> BucketInfo:
        return await self._on_bucket(request.name, lambda client: client.get_bucket(request), idempotent=True)

    async def update_bucket(self, request: BucketInfo) -> BucketInfo:
        return await self._on_bucket(request.name, lambda client: client.update_bucket(request))

    async def delete_bucket(self, request: BucketName) -> Empty:
        result = await self._on_bucket(request.name, lambda client: client.delete_bucket(request))
        await release_bucket(self._etcd, self._cluster, request.name)
        self._bucket_shards.pop(request.name, None)
        return result

    async def list_buckets(self, request: ListBucketsRequest) -> ListBucketsResponse:
        pages = await self._on_every_shard(lambda client: client.list_buckets(request))
        return merge_bucket_pages(pages, request.max_buckets)

    # ---- objects ----

    async def get_object(self, request: GetObjectRequest) -> ObjectMD:
        return await self._on_bucket(
            request.bucket, lambda client: client.get_object(request), idempotent=True
        )

    async def put_object(self, request: PutObjectRequest) -> PutObjectResponse:
        return await self._on_bucket(request.bucket, lambda client: client.put_object(request))

    async def delete_object(self, request: DeleteObjectRequest) -> DeleteObjectResponse:
        return await self._on_bucket(request.bucket, lambda client: client.delete_object(request))

    async def list_objects(self, request: ListObjectsRequest) -> ListObjectsResponse:
        return await self._on_bucket(
            request.bucket, lambda client: client.list_objects(request), idempotent=True
        )

    # ---- intents and garbage ----

    async def create_intent(self, request: CreateIntentRequest) -> Intent:
        # Not retried after an unknown outcome: a second intent naming the same planned blob would,
        # when it expired, queue for deletion a blob the first one's commit made live.
        return await self._on_bucket(request.bucket, lambda client: client.create_intent(request))

    async def abort_intent(self, request: AbortIntentRequest) -> Empty:
        return await self._on_bucket(
            request.bucket, lambda client: client.abort_intent(request), idempotent=True
        )

    async def renew_intent(self, request: RenewIntentRequest) -> Intent:
        return await self._on_bucket(
            request.bucket, lambda client: client.renew_intent(request), idempotent=True
        )

    async def queue_garbage(self, request: QueueGarbageRequest) -> Empty:
        if request.bucket:
            return await self._on_bucket(request.bucket, lambda client: client.queue_garbage(request))
        shard = self._shards.shards()[0] if self._shards.shards() else ""
        return await self._on_shard(shard, lambda client: client.queue_garbage(request), idempotent=False)

    async def run_gc(self, request: RunGcRequest) -> RunGcResponse:
        total = RunGcResponse()
        for result in await self._on_every_shard(lambda client: client.run_gc(request)):
            total.blobs_deleted += result.blobs_deleted
            total.intents_expired += result.intents_expired
            total.entries_remaining += result.entries_remaining
        return total

    async def run_repair(self, request: RunRepairRequest) -> RunRepairResponse:
        total = RunRepairResponse()
        for result in await self._on_every_shard(lambda client: client.run_repair(request)):
            total.blobs_repaired += result.blobs_repaired
            total.entries_remaining += result.entries_remaining
            total.blobs_checked += result.blobs_checked
            total.blobs_copied += result.blobs_copied
            total.blobs_remaining += result.blobs_remaining
            total.lost_blobs_remaining += result.lost_blobs_remaining
        return total

    async def repair_status(self, request: Empty) -> RepairStatusResponse:
        """The repair queues of the shards that answer soon (health checks must not hang on one
        shard without a leader); fails only if none does."""
        shards = self._shards.shards()
        results = await asyncio.gather(
            *(
                self._on_shard(
                    shard, lambda client: client.repair_status(request), idempotent=True, wait_s=1.0
                )
                for shard in shards
            ),
            return_exceptions=True,
        )
        answered = [result for result in results if isinstance(result, RepairStatusResponse)]
        if not answered:
            failure = next((result for result in results if isinstance(result, StrataError)), None)
            raise failure or StrataError(ErrorReason.BACKEND_UNAVAILABLE, "no metadata shard is registered")
        total = RepairStatusResponse()
        for result in answered:
            total.entries += result.entries
            for location, count in result.entries_by_location.items():
                total.entries_by_location[location] += count
        return total

    # ---- multipart ----

    async def create_upload(self, request: CreateUploadRequest) -> UploadInfo:
        return await self._on_bucket(request.upload.bucket, lambda client: client.create_upload(request))

    async def get_upload(self, request: UploadRef) -> UploadInfo:
        return await self._on_bucket(
            request.bucket, lambda client: client.get_upload(request), idempotent=True
        )

    async def put_part(self, request: PutPartRequest) -> PutPartResponse:
        return await self._on_bucket(request.upload.bucket, lambda client: client.put_part(request))

    async def list_parts(self, request: ListPartsRequest) -> ListPartsResponse:
        return await self._on_bucket(
            request.upload.bucket, lambda client: client.list_parts(request), idempotent=True
        )

    async def complete_upload(self, request: CompleteUploadRequest) -> CompleteUploadResponse:
        return await self._on_bucket(request.upload.bucket, lambda client: client.complete_upload(request))

    async def abort_upload(self, request: UploadRef) -> Empty:
        return await self._on_bucket(request.bucket, lambda client: client.abort_upload(request))

    async def list_uploads(self, request: ListUploadsRequest) -> ListUploadsResponse:
        return await self._on_bucket(
            request.bucket, lambda client: client.list_uploads(request), idempotent=True
        )


def merge_bucket_pages(pages: Iterable[ListBucketsResponse], max_buckets: int) -> ListBucketsResponse:
    """One page of buckets in name order from every shard's page of the same request."""
    pages = list(pages)
    buckets = sorted((bucket for page in pages for bucket in page.buckets), key=lambda bucket: bucket.name)
    cut_short = [page for page in pages if page.is_truncated and page.buckets]
    if cut_short:
        # Past the earliest end of a shard's page, that shard's names are not known yet.
        cut = min(page.buckets[-1].name for page in cut_short)
        buckets = [bucket for bucket in buckets if bucket.name <= cut]
    truncated = bool(cut_short)
    if max_buckets and len(buckets) > max_buckets:
        buckets, truncated = buckets[:max_buckets], True
    return ListBucketsResponse(buckets=buckets, is_truncated=truncated)
