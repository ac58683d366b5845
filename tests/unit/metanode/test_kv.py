"""One conformance suite for every KV store."""

from __future__ import annotations

from pathlib import Path

from metanode.kv import KV, RocksKV


def test_get_put_delete(kv: KV) -> None:
    assert kv.get(b"a") is None
    kv.write([(b"a", b"1"), (b"b", b"2")], [])
    assert kv.get(b"a") == b"1"
    kv.write([(b"c", b"3")], [b"a"])
    assert kv.get(b"a") is None
    assert kv.multi_get([b"a", b"b", b"c"]) == [None, b"2", b"3"]
    assert kv.multi_get([]) == []


def test_overwrite_replaces_value(kv: KV) -> None:
    kv.write([(b"k", b"old")], [])
    kv.write([(b"k", b"new")], [])
    assert kv.get(b"k") == b"new"
    assert list(kv.iterate(b"", None)) == [(b"k", b"new")]


def test_iterate_is_sorted_and_bounded(kv: KV) -> None:
    kv.write([(bytes([c]), bytes([c])) for c in b"fbdaec"], [])
    assert [key for key, _ in kv.iterate(b"b", b"e")] == [b"b", b"c", b"d"]
    assert [key for key, _ in kv.iterate(b"bb", None)] == [b"c", b"d", b"e", b"f"]
    assert list(kv.iterate(b"x", None)) == []


def test_binary_keys_sort_bytewise(kv: KV) -> None:
    kv.write([(b"a\x00z", b"1"), (b"a", b"2"), (b"a\x01", b"3"), (b"a\xff", b"4")], [])
    assert [key for key, _ in kv.iterate(b"a", b"b")] == [b"a", b"a\x00z", b"a\x01", b"a\xff"]


def test_seek_moves_forward_only(kv: KV) -> None:
    kv.write([(b"%03d" % n, b"v") for n in range(20)], [])
    iterator = kv.iterate(b"000", b"015")
    assert next(iterator)[0] == b"000"
    iterator.seek(b"010")
    assert next(iterator)[0] == b"010"
    iterator.seek(b"005")  # backwards: ignored
    assert next(iterator)[0] == b"011"
    iterator.seek(b"0125")
    assert next(iterator)[0] == b"013"
    iterator.seek(b"999")
    assert next(iterator, None) is None
    iterator.close()


def test_seek_before_first_step_is_not_below_start(kv: KV) -> None:
    kv.write([(b"a", b"1"), (b"b", b"2"), (b"c", b"3")], [])
    iterator = kv.iterate(b"b", None)
    iterator.seek(b"a")
    assert [key for key, _ in iterator] == [b"b", b"c"]


def test_write_applies_puts_and_deletes_together(kv: KV) -> None:
    kv.write([(b"x", b"1"), (b"y", b"1")], [])
    kv.write([(b"z", b"1")], [b"x", b"y", b"missing"])
    assert [key for key, _ in kv.iterate(b"", None)] == [b"z"]


def test_rocksdb_data_survives_reopen(tmp_path: Path) -> None:
    path = str(tmp_path / "db")
    store = RocksKV(path)
    store.write([(b"k", b"v")], [], sync=True)
    store.close()
    reopened = RocksKV(path)
    assert reopened.get(b"k") == b"v"
    reopened.close()
