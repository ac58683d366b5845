"""Listing state machines against brute-force references (and the seek behaviour of the driver)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from hypothesis import given, settings
from hypothesis import strategies as st

from metanode import keys
from metanode.kv import KV, KVIterator, MemoryKV
from metanode.listing import (
    Delimiter,
    DelimiterMaster,
    DelimiterVersions,
    ListingMachine,
    ListingResult,
    after_prefix,
    run_listing,
)
from protos.metadata_pb2 import ObjectMD

KEY_PREFIX = b"O" + b"0" * 32
ALPHABET = ["a", "b", "/", "-", "é", "z"]

key_text = st.text(alphabet=st.sampled_from(ALPHABET), min_size=1, max_size=5)
prefixes = st.one_of(st.just(""), st.sampled_from(["a", "a/", "b-", "é", "/"]), key_text)
delimiters = st.sampled_from(["", "/", "-", "/a", "é"])
markers = st.one_of(st.just(""), key_text, st.sampled_from(["a/", "a/b", "b-"]))
page_sizes = st.integers(min_value=1, max_value=7)


def fill(entries: dict[str, ObjectMD]) -> MemoryKV:
    store = MemoryKV()
    store.write(
        [(keys.raw_listing_key(KEY_PREFIX, key), keys.encode_record(md)) for key, md in entries.items()], []
    )
    return store


def common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    found = key.find(delimiter, len(prefix))
    return None if found < 0 else key[: found + len(delimiter)]


def group(object_keys: Sequence[str], prefix: str, delimiter: str, marker: str) -> list[tuple[str, str]]:
    """The brute-force answer: ("key", k) and ("prefix", p) items in order."""
    items: list[tuple[str, str]] = []
    for key in sorted(object_keys):
        if not key.startswith(prefix) or key <= marker:
            continue
        found = common_prefix(key, prefix, delimiter)
        if found is None:
            items.append(("key", key))
        elif found > marker and ("prefix", found) not in items[-1:]:
            items.append(("prefix", found))
    return items


def items_of(result: ListingResult) -> list[tuple[str, str]]:
    merged = [("key", entry.key) for entry in result.entries] + [
        ("prefix", p) for p in result.common_prefixes
    ]
    return sorted(merged, key=lambda item: item[1])


def run(store: KV, machine: ListingMachine) -> ListingResult:
    return run_listing(store, machine, KEY_PREFIX)


# ---- plain delimiter ----


@settings(max_examples=300, deadline=None)
@given(st.sets(key_text, max_size=25), prefixes, delimiters, markers)
def test_delimiter_one_page_matches_brute_force(
    object_keys: set[str], prefix: str, delimiter: str, marker: str
) -> None:
    store = fill({key: ObjectMD(key=key) for key in object_keys})
    result = run(store, Delimiter(prefix, delimiter, marker, max_keys=10_000))
    assert items_of(result) == group(list(object_keys), prefix, delimiter, marker)
    assert not result.is_truncated and result.next_marker == ""


@settings(max_examples=300, deadline=None)
@given(st.sets(key_text, max_size=25), prefixes, delimiters, page_sizes)
def test_delimiter_stitched_pages_equal_one_page(
    object_keys: set[str], prefix: str, delimiter: str, page_size: int
) -> None:
    store = fill({key: ObjectMD(key=key) for key in object_keys})
    expected = group(list(object_keys), prefix, delimiter, "")
    stitched: list[tuple[str, str]] = []
    marker = ""
    for _ in range(100):
        page = run(store, Delimiter(prefix, delimiter, marker, max_keys=page_size))
        found = items_of(page)
        assert len(found) <= page_size
        stitched.extend(found)
        if not page.is_truncated:
            break
        assert len(found) == page_size
        assert page.next_marker == found[-1][1]
        marker = page.next_marker
    assert stitched == expected


def test_max_keys_zero_is_empty_and_not_truncated() -> None:
    store = fill({"a": ObjectMD(key="a")})
    result = run(store, Delimiter(max_keys=0))
    assert result == ListingResult()


def test_exactly_max_keys_is_not_truncated() -> None:
    store = fill({"a": ObjectMD(key="a"), "b": ObjectMD(key="b")})
    assert not run(store, Delimiter(max_keys=2)).is_truncated
    assert run(store, Delimiter(max_keys=1)).is_truncated


class CountingKV:
    """Counts how many keys a listing actually visits."""

    def __init__(self, inner: KV) -> None:
        self.inner = inner
        self.visited = 0

    def iterate(self, start: bytes, end: bytes | None = None) -> KVIterator:
        outer = self
        inner_iterator = self.inner.iterate(start, end)

        class Counting:
            def __iter__(self) -> Iterator[tuple[bytes, bytes]]:
                return self

            def __next__(self) -> tuple[bytes, bytes]:
                item = next(inner_iterator)
                outer.visited += 1
                return item

            def seek(self, key: bytes) -> None:
                inner_iterator.seek(key)

            def close(self) -> None:
                inner_iterator.close()

        return Counting()


def test_common_prefix_is_skipped_by_seeking_not_walked() -> None:
    entries = {f"dir/{n:04d}": ObjectMD(key=f"dir/{n:04d}") for n in range(500)}
    entries["zeta"] = ObjectMD(key="zeta")
    counting = CountingKV(fill(entries))
    result = run_listing(counting, Delimiter(delimiter="/"), KEY_PREFIX)  # type: ignore[arg-type]
    assert result.common_prefixes == ("dir/",)
    assert [entry.key for entry in result.entries] == ["zeta"]
    assert counting.visited <= 3


def test_after_prefix_is_the_smallest_greater_string() -> None:
    assert after_prefix("a/") == "a0"
    assert after_prefix("") is None
    assert after_prefix(chr(0x10FFFF)) is None


# ---- versioned layouts ----


@dataclass(frozen=True)
class StoredObject:
    """One object's records: versions newest first, and how its master relates to them."""

    versions: tuple[tuple[str, bool], ...]  # (version id, is delete marker), newest first
    master_mode: str  # "latest", "phd", "master-only" (a null master newer than every version)
    master_deleted: bool


def object_layouts() -> st.SearchStrategy[StoredObject]:
    version = st.tuples(st.integers(min_value=1, max_value=9), st.booleans())

    def build(raw: list[tuple[int, bool]], mode: str, master_deleted: bool) -> StoredObject:
        unique = sorted({number: marker for number, marker in raw}.items())
        versions = tuple((f"v{number}", marker) for number, marker in unique)
        if not versions and mode != "master-only":
            mode = "master-only"
        return StoredObject(versions, mode, master_deleted)

    return st.builds(
        build,
        st.lists(version, max_size=3),
        st.sampled_from(["latest", "phd", "master-only"]),
        st.booleans(),
    )


def layout_entries(objects: dict[str, StoredObject]) -> dict[str, ObjectMD]:
    entries: dict[str, ObjectMD] = {}
    for key, stored in objects.items():
        for version_id, marker in stored.versions:
            entries[key + "\0" + version_id] = ObjectMD(
                key=key, version_id=version_id, is_delete_marker=marker
            )
        if stored.master_mode == "phd":
            entries[key] = ObjectMD(key=key, is_phd=True)
        elif stored.master_mode == "latest":
            newest_id, newest_marker = stored.versions[0]
            entries[key] = ObjectMD(key=key, version_id=newest_id, is_delete_marker=newest_marker)
        else:
            entries[key] = ObjectMD(
                key=key, version_id="", is_null=True, is_delete_marker=stored.master_deleted
            )
    return entries


def current_visible(stored: StoredObject) -> bool:
    if stored.master_mode == "master-only":
        return not stored.master_deleted
    if not stored.versions:
        return False
    return not stored.versions[0][1]


def version_items(
    objects: dict[str, StoredObject], prefix: str, delimiter: str
) -> list[tuple[str, str, str]]:
    """The brute-force versions listing: ("version", key, id) and ("prefix", p, "") in order."""
    items: list[tuple[str, str, str]] = []
    for key in sorted(objects):
        if not key.startswith(prefix):
            continue
        found = common_prefix(key, prefix, delimiter)
        if found is not None:
            if ("prefix", found, "") not in items[-1:]:
                items.append(("prefix", found, ""))
            continue
        stored = objects[key]
        if stored.master_mode == "master-only":
            items.append(("version", key, ""))
        items.extend(("version", key, version_id) for version_id, _ in stored.versions)
    return items


layouts = st.dictionaries(key_text, object_layouts(), max_size=12)


@settings(max_examples=300, deadline=None)
@given(layouts, prefixes, delimiters, markers)
def test_master_listing_matches_brute_force(
    objects: dict[str, StoredObject], prefix: str, delimiter: str, marker: str
) -> None:
    store = fill(layout_entries(objects))
    visible = [key for key, stored in objects.items() if current_visible(stored)]
    result = run(store, DelimiterMaster(prefix, delimiter, marker, max_keys=10_000))
    assert items_of(result) == group(visible, prefix, delimiter, marker)
    assert all(not entry.record.is_delete_marker and not entry.record.is_phd for entry in result.entries)


@settings(max_examples=300, deadline=None)
@given(layouts, prefixes, delimiters, page_sizes)
def test_master_listing_stitched_pages_equal_one_page(
    objects: dict[str, StoredObject], prefix: str, delimiter: str, page_size: int
) -> None:
    store = fill(layout_entries(objects))
    whole = items_of(run(store, DelimiterMaster(prefix, delimiter, max_keys=10_000)))
    stitched: list[tuple[str, str]] = []
    marker = ""
    for _ in range(100):
        page = run(store, DelimiterMaster(prefix, delimiter, marker, max_keys=page_size))
        stitched.extend(items_of(page))
        if not page.is_truncated:
            break
        marker = page.next_marker
    assert stitched == whole


def versions_items_of(result: ListingResult) -> list[tuple[str, str, str]]:
    merged = [("version", entry.key, entry.version_id or "") for entry in result.entries]
    merged += [("prefix", p, "") for p in result.common_prefixes]
    order = {("version", entry.key, entry.version_id or ""): n for n, entry in enumerate(result.entries)}
    return sorted(merged, key=lambda item: (item[1], order.get(item, -1)))


@settings(max_examples=300, deadline=None)
@given(layouts, prefixes, delimiters)
def test_versions_listing_matches_brute_force(
    objects: dict[str, StoredObject], prefix: str, delimiter: str
) -> None:
    store = fill(layout_entries(objects))
    result = run(store, DelimiterVersions(prefix, delimiter, max_keys=10_000))
    assert versions_items_of(result) == version_items(objects, prefix, delimiter)
    assert not result.is_truncated


@settings(max_examples=300, deadline=None)
@given(layouts, prefixes, delimiters, page_sizes)
def test_versions_stitched_pages_equal_one_page(
    objects: dict[str, StoredObject], prefix: str, delimiter: str, page_size: int
) -> None:
    store = fill(layout_entries(objects))
    expected = version_items(objects, prefix, delimiter)
    stitched: list[tuple[str, str, str]] = []
    marker = version_marker = ""
    for _ in range(200):
        page = run(
            store, DelimiterVersions(prefix, delimiter, marker, page_size, version_id_marker=version_marker)
        )
        found = versions_items_of(page)
        assert len(found) <= page_size
        stitched.extend(found)
        if not page.is_truncated:
            break
        marker, version_marker = page.next_marker, page.next_version_id_marker
    assert stitched == expected


def test_versions_marker_starts_after_that_version() -> None:
    objects = {"k": StoredObject((("v1", False), ("v2", False), ("v3", False)), "latest", False)}
    store = fill(layout_entries(objects))
    result = run(store, DelimiterVersions(marker="k", version_id_marker="v1"))
    assert [entry.version_id for entry in result.entries] == ["v2", "v3"]
    assert run(store, DelimiterVersions(marker="k")).entries == ()


def test_master_listing_shows_newest_version_behind_placeholder() -> None:
    objects = {"k": StoredObject((("v1", False), ("v2", False)), "phd", False)}
    result = run(fill(layout_entries(objects)), DelimiterMaster())
    assert [(entry.key, entry.record.version_id) for entry in result.entries] == [("k", "v1")]
