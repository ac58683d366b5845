"""The history checker on synthetic histories: right ones pass, wrong ones are caught."""

from __future__ import annotations

import itertools

from strata.testing.checker import check_blobs, check_history, write_recovery_s
from strata.testing.history import (
    DELETE,
    FAIL,
    GET,
    GET_VERSION,
    OK,
    PUT,
    UNKNOWN,
    FinalObject,
    FinalState,
    History,
    ListedVersion,
    Operation,
    make_body,
    token_of,
)

BUCKET = "b"
VERSIONED = "v"


class Builder:
    """Operations on one key with explicit [invoked, completed] times."""

    def __init__(self) -> None:
        self.ops: list[Operation] = []
        self.ids = itertools.count(1)

    def op(
        self,
        kind: str,
        start: float,
        end: float,
        value: str | None = None,
        outcome: str = OK,
        key: str = "k",
        bucket: str = BUCKET,
        status: int | None = None,
        version_id: str | None = None,
    ) -> Operation:
        op = Operation(
            next(self.ids), 0, 0, kind, bucket, key, start, end, outcome, value, version_id, status
        )
        self.ops.append(op)
        return op

    def put(self, start: float, end: float, value: str, outcome: str = OK, **kw: object) -> Operation:
        return self.op(PUT, start, end, value, outcome, **kw)  # type: ignore[arg-type]

    def get(self, start: float, end: float, value: str | None, **kw: object) -> Operation:
        return self.op(GET, start, end, value, **kw)  # type: ignore[arg-type]

    def delete(self, start: float, end: float, outcome: str = OK, **kw: object) -> Operation:
        return self.op(DELETE, start, end, None, outcome, **kw)  # type: ignore[arg-type]

    def history(self, final: dict[str, str | None] | None = None, **final_state: object) -> History:
        state = None
        if final is not None:
            state = FinalState(
                [FinalObject(BUCKET, key, value, None, None) for key, value in final.items()],
                final_state.get("listings", {BUCKET: {k: (None, None) for k, v in final.items() if v}}),  # type: ignore[arg-type]
                final_state.get("versions", {}),  # type: ignore[arg-type]
            )
        return History(list(self.ops), state, [VERSIONED])


def kinds(history: History) -> dict[str, int]:
    return dict(check_history(history).kinds())


def test_sequential_history_passes() -> None:
    h = Builder()
    h.get(0, 1, None)
    h.put(2, 3, "a")
    h.get(4, 5, "a")
    h.put(6, 7, "b")
    h.get(8, 9, "b")
    h.delete(10, 11)
    h.get(12, 13, None)
    h.put(14, 15, "c")
    report = check_history(h.history({"k": "c"}))
    assert report.ok, report.summary()
    assert report.acknowledged_writes == 4


def test_read_overlapping_a_write_may_see_either_value() -> None:
    h = Builder()
    h.put(0, 1, "a")
    h.put(2, 6, "b")
    h.get(3, 4, "a")  # b may not have taken effect yet
    h.get(3, 5, "b")  # or it may have
    h.get(4, 5, "a")  # still allowed: b is not acknowledged until 6
    assert check_history(h.history({"k": "b"})).ok


def test_stale_read_after_acknowledged_overwrite_fails() -> None:
    h = Builder()
    h.put(0, 1, "a")
    h.put(2, 3, "b")
    h.get(4, 5, "a")
    assert kinds(h.history()) == {"stale-read": 1}


def test_read_of_absent_after_acknowledged_put_is_stale() -> None:
    h = Builder()
    h.put(0, 1, "a")
    h.get(2, 3, None)
    assert kinds(h.history()) == {"stale-read": 1}


def test_read_of_deleted_value_after_acknowledged_delete_is_stale() -> None:
    h = Builder()
    h.put(0, 1, "a")
    h.delete(2, 3)
    h.get(4, 5, "a")
    assert kinds(h.history()) == {"stale-read": 1}


def test_read_of_never_written_value_fails() -> None:
    h = Builder()
    h.put(0, 1, "a")
    h.get(2, 3, "zzz")
    assert kinds(h.history()) == {"never-written": 1}


def test_value_written_to_another_key_is_never_written_here() -> None:
    h = Builder()
    h.put(0, 1, "a", key="other")
    h.get(2, 3, "a")
    assert kinds(h.history()) == {"never-written": 1}


def test_read_of_a_value_written_after_the_read_ended_fails() -> None:
    h = Builder()
    h.get(0, 1, "a")
    h.put(2, 3, "a")
    assert kinds(h.history()) == {"future-read": 1}


def test_refused_write_must_never_become_visible() -> None:
    h = Builder()
    h.put(0, 1, "a", outcome=FAIL, status=400)
    h.get(2, 3, "a")
    assert kinds(h.history()) == {"failed-write-visible": 1}


def test_corrupt_body_fails() -> None:
    body = bytearray(make_body("tok", 500))
    body[300] ^= 1
    h = Builder()
    h.put(0, 1, "tok")
    h.get(2, 3, token_of(bytes(body)))
    assert kinds(h.history()) == {"corrupt-read": 1}


def test_unknown_write_may_or_may_not_have_taken_effect() -> None:
    h = Builder()
    h.put(0, 1, "a")
    h.put(2, 3, "b", outcome=UNKNOWN, status=503)
    h.get(4, 5, "a")  # b did not (yet) take effect
    h.get(6, 7, "b")  # now it has: an in-flight write may land late
    assert check_history(h.history({"k": "b"})).ok
    h2 = Builder()
    h2.put(0, 1, "a")
    h2.put(2, 3, "b", outcome=UNKNOWN)
    assert check_history(h2.history({"k": "a"})).ok  # it never took effect


def test_unknown_write_once_seen_has_taken_effect() -> None:
    h = Builder()
    h.put(0, 1, "a")
    h.put(2, 3, "b", outcome=UNKNOWN)
    h.get(4, 5, "b")  # b took effect before 5
    h.put(6, 7, "c")
    h.get(8, 9, "b")  # c is acknowledged and came after b: stale
    assert kinds(h.history()) == {"stale-read": 1}


def test_value_seen_by_one_read_cannot_be_unseen_by_a_later_read() -> None:
    h = Builder()
    h.put(0, 1, "a")
    h.put(2, 20, "b", outcome=UNKNOWN)
    h.get(3, 4, "b")
    h.get(5, 6, None)  # nothing deleted: b (seen) supersedes the empty start
    assert kinds(h.history()) == {"stale-read": 1}


def test_concurrent_delete_and_put_either_order() -> None:
    h = Builder()
    h.put(0, 1, "a")
    h.delete(2, 5)
    h.put(3, 6, "b")
    h.get(7, 8, "b")
    assert check_history(h.history({"k": "b"})).ok
    h2 = Builder()
    h2.put(0, 1, "a")
    h2.delete(2, 5)
    h2.put(3, 6, "b")
    h2.get(7, 8, None)
    assert check_history(h2.history({"k": None})).ok


def test_lost_acknowledged_write_fails_the_final_check() -> None:
    h = Builder()
    h.put(0, 1, "a")
    h.put(2, 3, "b")
    report = check_history(h.history({"k": "a"}))
    assert dict(report.kinds()) == {"lost-write": 1}, report.summary()
    h2 = Builder()
    h2.put(0, 1, "a")
    assert dict(check_history(h2.history({"k": None})).kinds()) == {"lost-write": 1}


def test_final_state_may_be_an_unacknowledged_last_write() -> None:
    h = Builder()
    h.put(0, 1, "a")
    h.put(2, 3, "b", outcome=UNKNOWN)
    assert check_history(h.history({"k": "b"})).ok
    assert check_history(h.history({"k": "a"})).ok


def test_server_errors_other_than_503_fail_and_503s_are_counted() -> None:
    h = Builder()
    h.put(0, 1, "a", outcome=UNKNOWN, status=503)
    h.put(0, 1, "b", outcome=UNKNOWN, status=503)
    h.get(2, 3, None, outcome=FAIL, status=500)
    report = check_history(h.history())
    assert dict(report.kinds()) == {"server-error": 1}
    assert report.service_unavailable == 2


def test_listing_must_match_the_final_reads() -> None:
    h = Builder()
    h.put(0, 1, "a", key="k1")
    h.put(0, 1, "b", key="k2")
    good = h.history({"k1": "a", "k2": "b"})
    assert check_history(good).ok
    missing = h.history({"k1": "a", "k2": "b"}, listings={BUCKET: {"k1": (None, None)}})
    extra = h.history(
        {"k1": "a", "k2": "b"},
        listings={BUCKET: {"k1": (None, None), "k2": (None, None), "k3": (None, None)}},
    )
    assert dict(check_history(missing).kinds()) == {"listing-mismatch": 1}
    assert dict(check_history(extra).kinds()) == {"listing-mismatch": 1}


def test_listing_sizes_must_match() -> None:
    h = Builder()
    h.put(0, 1, "a")
    history = h.history({"k": "a"}, listings={BUCKET: {"k": ('"etag"', 10)}})
    assert dict(check_history(history).kinds()) == {"listing-mismatch": 1}


def versioned_history(
    reads: list[tuple[str, str | None]], listed: list[ListedVersion], final: str | None = "b"
) -> History:
    h = Builder()
    h.put(0, 1, "a", bucket=VERSIONED, version_id="v1")
    h.put(2, 3, "b", bucket=VERSIONED, version_id="v2")
    for version_id, value in reads:
        h.op(GET_VERSION, 4, 5, value, bucket=VERSIONED, version_id=version_id)
    state = FinalState(
        [FinalObject(VERSIONED, "k", final, None, None, "v2" if final else None)],
        {VERSIONED: {"k": (None, None)} if final else {}},  # type: ignore[dict-item]
        {VERSIONED: listed},
    )
    return History(h.ops, state, [VERSIONED])


def test_versions_are_read_back_by_id() -> None:
    listed = [
        ListedVersion("k", "v2", True, False, value="b"),
        ListedVersion("k", "v1", False, False, value="a"),
    ]
    assert check_history(versioned_history([("v1", "a"), ("v2", "b")], listed)).ok


def test_wrong_or_lost_version_fails() -> None:
    listed = [
        ListedVersion("k", "v2", True, False, value="b"),
        ListedVersion("k", "v1", False, False, value="a"),
    ]
    assert dict(check_history(versioned_history([("v1", "b")], listed)).kinds()) == {"wrong-version": 1}
    assert dict(check_history(versioned_history([("v1", None)], listed)).kinds()) == {"lost-version": 1}
    unlisted = [ListedVersion("k", "v2", True, False, value="b")]
    assert dict(check_history(versioned_history([], unlisted)).kinds()) == {"lost-version": 1}


def test_latest_listed_version_must_agree_with_the_final_read() -> None:
    listed = [
        ListedVersion("k", "v2", False, False, value="b"),
        ListedVersion("k", "v1", True, False, value="a"),
    ]
    assert "listing-mismatch" in check_history(versioned_history([], listed)).kinds()


def test_a_listed_version_nobody_wrote_fails() -> None:
    listed = [
        ListedVersion("k", "v3", True, False, value="b"),
        ListedVersion("k", "v2", False, False, value="b"),
        ListedVersion("k", "v1", False, False, value="a"),
        ListedVersion("k", "v0", False, False, value="ghost"),
    ]
    report = check_history(versioned_history([], listed))
    assert report.kinds()["never-written"] == 1


def test_body_encodes_its_token() -> None:
    for size in (0, 10, 5000):
        body = make_body("abc-123", size)
        assert token_of(body) == "abc-123"
    assert token_of(b"garbage").startswith("corrupt:")
    assert token_of(make_body("abc", 100)[:-1]).startswith("corrupt:")


def test_blob_accounting_reports_orphans_and_missing_replicas() -> None:
    stored = {("dn-1", "x"), ("dn-2", "x"), ("dn-1", "orphan"), ("dn-3", "gone-node")}
    referenced = {("dn-1", "x"), ("dn-2", "x"), ("dn-3", "y"), ("dn-3", "gone-node")}
    report = check_blobs(stored, referenced)
    assert report.orphaned == {("dn-1", "orphan")}
    assert report.missing == {("dn-3", "y")}
    assert not report.ok
    assert check_blobs(stored - {("dn-1", "orphan")}, referenced, ignore_nodes=["dn-3"]).ok


def test_write_recovery_is_the_first_acknowledged_write_invoked_after_a_kill() -> None:
    h = Builder()
    h.put(0, 1, "a")
    h.put(9, 12, "b", outcome=UNKNOWN)  # invoked before the kill: does not count
    h.put(10.5, 13, "c", outcome=UNKNOWN)
    h.put(11, 14.5, "d")
    h.put(12, 14, "e")
    history = h.history()
    history.faults = [
        (10.0, "kill -9 metanode-1"),
        (11.0, "SIGSTOP datanode-1"),
        (20.0, "kill -9 datanode-2"),
    ]
    assert write_recovery_s(history) == [("kill -9 metanode-1", 4.0), ("kill -9 datanode-2", None)]
