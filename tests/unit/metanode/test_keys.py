from __future__ import annotations

import pytest

from metanode import keys
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import BucketInfo, ObjectMD


class FakeClock:
    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def test_record_round_trip_carries_format_version() -> None:
    record = ObjectMD(key="a/b", size=5, etag="abc")
    raw = keys.encode_record(record)
    assert raw[0] == keys.FORMAT_VERSION
    assert keys.decode_object(raw) == record


def test_unknown_format_version_is_refused() -> None:
    raw = bytes((keys.FORMAT_VERSION + 1,)) + BucketInfo(name="b").SerializeToString()
    with pytest.raises(StrataError) as caught:
        keys.decode_bucket(raw)
    assert caught.value.reason == ErrorReason.INTERNAL


def test_newer_versions_sort_first() -> None:
    clock = FakeClock(1_700_000_000_000)
    generator = keys.VersionIdGenerator("RG001", clock_ms=clock)
    first = generator.next()
    clock.now_ms += 5
    second = generator.next()
    assert second < first
    assert keys.is_newer_version(second, first)


def test_version_ids_are_strictly_monotonic_within_one_millisecond() -> None:
    generator = keys.VersionIdGenerator("RG001", clock_ms=FakeClock(1_000))
    issued = [generator.next() for _ in range(1000)]
    assert issued == sorted(issued, reverse=True)
    assert len(set(issued)) == len(issued)


def test_version_ids_stay_monotonic_when_the_clock_goes_back_across_restarts() -> None:
    before = keys.VersionIdGenerator("RG001", clock_ms=FakeClock(5_000)).next()
    restarted = keys.VersionIdGenerator("RG001", floor=before, clock_ms=FakeClock(4_000))
    after = restarted.next()
    assert keys.is_newer_version(after, before)


def test_version_id_sequence_overflow_borrows_the_next_millisecond() -> None:
    floor = keys.make_version_id(1_000, keys.MAX_SEQ, "RG001")
    generator = keys.VersionIdGenerator("RG001", floor=floor, clock_ms=FakeClock(1_000))
    following = generator.next()
    assert keys.parse_version_id(following) == (1_001, 0, "RG001")


def test_version_id_format_ends_with_replication_group() -> None:
    version_id = keys.VersionIdGenerator("PARIS", clock_ms=FakeClock(42)).next()
    assert version_id.endswith("PARIS")
    assert keys.parse_version_id(version_id) == (42, 0, "PARIS")


def test_non_versioned_id_sorts_after_every_real_version() -> None:
    real = keys.VersionIdGenerator("RG001", clock_ms=FakeClock(1)).next()
    assert keys.non_versioned_version_id("RG001") > real


def test_master_sorts_before_its_versions_and_versions_before_next_key() -> None:
    uid = keys.new_bucket_uid()
    generator = keys.VersionIdGenerator("RG001", clock_ms=FakeClock(10))
    older, newer = generator.next(), generator.next()
    ordered = [
        keys.master_key(uid, "foo"),
        keys.version_key(uid, "foo", newer),
        keys.version_key(uid, "foo", older),
        keys.master_key(uid, "foo!"),
        keys.master_key(uid, "foo/bar"),
    ]
    assert sorted(ordered) == ordered


def test_bucket_prefixes_never_collide() -> None:
    first, second = keys.new_bucket_uid(), keys.new_bucket_uid()
    assert len(first) == len(second) == keys.BUCKET_UID_LENGTH
    assert not keys.master_key(first, "x").startswith(keys.object_prefix(second))
    assert not keys.object_prefix(first).startswith(keys.object_prefix(second))


def test_external_version_id_round_trip_and_specials() -> None:
    version_id = keys.VersionIdGenerator("RG001", clock_ms=FakeClock(77)).next()
    external = keys.encode_version_id(version_id)
    assert external != version_id
    assert keys.decode_version_id(external) == version_id
    assert keys.encode_version_id("") == "" and keys.decode_version_id("") == ""
    assert keys.encode_version_id("null") == "null" and keys.decode_version_id("null") == "null"


@pytest.mark.parametrize("garbage", ["zz", "abc", "6162", "null2", "41" * 40])
def test_malformed_external_version_id_is_invalid_argument(garbage: str) -> None:
    with pytest.raises(StrataError) as caught:
        keys.decode_version_id(garbage)
    assert caught.value.reason == ErrorReason.INVALID_ARGUMENT


def test_prefix_end_bounds_every_key_with_the_prefix() -> None:
    assert keys.prefix_end(b"O\x01") == b"O\x02"
    assert keys.prefix_end(b"a\xff\xff") == b"b"
    assert keys.prefix_end(b"\xff") is None


def test_gc_keys_sort_numerically() -> None:
    assert keys.gc_key(9) < keys.gc_key(10)
    assert keys.gc_seq_from_key(keys.gc_key(123)) == 123


@pytest.mark.parametrize("key", ["", "a\0b", "x" * 1025])
def test_invalid_object_keys_are_refused(key: str) -> None:
    with pytest.raises(StrataError) as caught:
        keys.validate_object_key(key)
    assert caught.value.reason == ErrorReason.INVALID_ARGUMENT
