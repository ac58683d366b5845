"""The expected-bucket-owner rule: which header values name a bucket's owner."""

from __future__ import annotations

from gateway.access import expected_owner_matches
from gateway.s3.accounts import Account, AccountStore

OWNER = Account(
    name="Bart",
    email="bart@example.com",
    arn="arn:aws:iam::123456789012:root",
    canonical_id="c" * 64,
    short_id="",
)


def test_account_id_comes_from_the_arn_else_the_short_id() -> None:
    assert OWNER.account_id == "123456789012"
    without_arn = Account(name="n", email="", arn="", canonical_id="x", short_id="210987654321")
    assert without_arn.account_id == "210987654321"
    single = AccountStore.single("AKID", "secret").accounts()[0]
    assert single.account_id == single.short_id and len(single.account_id) == 12


def test_no_header_means_no_expectation() -> None:
    assert expected_owner_matches(None, OWNER, OWNER.canonical_id)


def test_the_account_id_or_the_canonical_id_matches() -> None:
    assert expected_owner_matches("123456789012", OWNER, OWNER.canonical_id)
    assert expected_owner_matches(" 123456789012 ", OWNER, OWNER.canonical_id)
    assert expected_owner_matches(OWNER.canonical_id, OWNER, OWNER.canonical_id)


def test_anything_else_does_not_match() -> None:
    for value in ("123456789013", "", "12345678901", "arn:aws:iam::123456789012:root", "Bart", "C" * 64):
        assert not expected_owner_matches(value, OWNER, OWNER.canonical_id), value


def test_an_owner_missing_from_the_accounts_matches_only_by_canonical_id() -> None:
    assert expected_owner_matches(OWNER.canonical_id, None, OWNER.canonical_id)
    assert not expected_owner_matches("123456789012", None, OWNER.canonical_id)
