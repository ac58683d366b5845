"""ListBuckets in the metadata core: owner, prefix, location, start-after and a page limit."""

from __future__ import annotations

import itertools

import pytest

from metanode.core import MetadataCore
from metanode.kv import KV, KVIterator, MemoryKV
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import BucketInfo, CreateBucketRequest, ListBucketsRequest

BUCKETS = [
    # (name, owner, location)
    ("alpha", "alice", "us-east-1"),
    ("alpha-2", "bob", "us-east-1"),
    ("alpha-3", "alice", "mem"),
    ("beta", "alice", ""),
    ("beta-1", "alice", "mem"),
    ("beta-2", "bob", "mem"),
    ("gamma", "alice", "us-east-1"),
]


async def _populate(core: MetadataCore) -> None:
    for name, owner, location in BUCKETS:
        await core.create_bucket(
            CreateBucketRequest(bucket=BucketInfo(name=name, owner_id=owner, location=location))
        )


def _expected(owner: str, start_after: str, prefix: str, limit: int, location: str) -> tuple[list[str], bool]:
    matching = [
        name
        for name, bucket_owner, bucket_location in sorted(BUCKETS)
        if bucket_owner == owner
        and name > start_after
        and name.startswith(prefix)
        and (not location or (bucket_location or "us-east-1") == location)
    ]
    if limit and len(matching) > limit:
        return matching[:limit], True
    return matching, False


async def test_every_page_matches_a_brute_force_filter(core: MetadataCore) -> None:
    await _populate(core)
    for owner, start_after, prefix, limit, location in itertools.product(
        ["alice", "bob"],
        ["", "alpha", "alpha-3", "b", "beta-2", "zeta"],
        ["", "alpha", "beta-", "g", "x"],
        [0, 1, 2, 3],
        ["", "us-east-1", "mem"],
    ):
        listed = await core.list_buckets(
            ListBucketsRequest(
                owner_id=owner, start_after=start_after, prefix=prefix, max_buckets=limit, location=location
            )
        )
        case = (owner, start_after, prefix, limit, location)
        assert ([b.name for b in listed.buckets], listed.is_truncated) == _expected(*case), case


async def test_pages_chain_through_start_after(core: MetadataCore) -> None:
    await _populate(core)
    names: list[str] = []
    start_after = ""
    while True:
        page = await core.list_buckets(
            ListBucketsRequest(owner_id="alice", start_after=start_after, max_buckets=2)
        )
        names.extend(b.name for b in page.buckets)
        if not page.is_truncated:
            break
        start_after = page.buckets[-1].name
    assert names == ["alpha", "alpha-3", "beta", "beta-1", "gamma"]


async def test_negative_limit_is_invalid(core: MetadataCore) -> None:
    with pytest.raises(StrataError) as caught:
        await core.list_buckets(ListBucketsRequest(owner_id="alice", max_buckets=-1))
    assert caught.value.reason == ErrorReason.INVALID_ARGUMENT


class _CountingKV(MemoryKV):
    """A memory store that counts the records its iterators hand out."""

    def __init__(self) -> None:
        super().__init__()
        self.read = 0

    def iterate(self, start: bytes, end: bytes | None = None) -> KVIterator:
        inner = super().iterate(start, end)
        store = self

        class Counting:
            def __iter__(self) -> Counting:
                return self

            def __next__(self) -> tuple[bytes, bytes]:
                item = next(inner)
                store.read += 1
                return item

            def seek(self, key: bytes) -> None:
                inner.seek(key)

            def close(self) -> None:
                inner.close()

        return Counting()


async def test_a_page_reads_only_up_to_one_record_past_its_limit() -> None:
    kv: KV = _CountingKV()
    core = MetadataCore(kv)
    try:
        for index in range(200):
            await core.create_bucket(
                CreateBucketRequest(bucket=BucketInfo(name=f"b{index:04d}", owner_id="alice"))
            )
        assert isinstance(kv, _CountingKV)
        kv.read = 0
        page = await core.list_buckets(
            ListBucketsRequest(owner_id="alice", start_after="b0100", max_buckets=5)
        )
        assert [b.name for b in page.buckets] == [f"b{index:04d}" for index in range(101, 106)]
        assert page.is_truncated
        assert kv.read == 6
    finally:
        await core.writer.close()
