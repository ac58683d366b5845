"""BucketLoggingStatus parsing, storing and rendering (gateway/api/bucket_logging.py)."""

from __future__ import annotations

import pytest

from gateway.api.bucket_logging import LoggingStatus, logging_document, parse_logging_status
from gateway.authz.acl import Grant
from gateway.s3 import errors
from gateway.s3.accounts import AccountStore, load_accounts
from gateway.s3.xml import document

NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'
XSI = 'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"'


@pytest.fixture(scope="module")
def accounts() -> AccountStore:
    return load_accounts(None, {})


def status(enabled: str) -> bytes:
    return (
        f"<BucketLoggingStatus {NS}><LoggingEnabled>{enabled}</LoggingEnabled></BucketLoggingStatus>".encode()
    )


def test_an_empty_status_turns_logging_off(accounts: AccountStore) -> None:
    assert parse_logging_status(f"<BucketLoggingStatus {NS}/>".encode(), accounts) is None


def test_grants_resolve_email_to_the_canonical_id(accounts: AccountStore) -> None:
    lisa = next(account for account in accounts.accounts() if account.email == "lisa@strata.local")
    parsed = parse_logging_status(
        status(
            "<TargetBucket>logs</TargetBucket><TargetPrefix>p/</TargetPrefix><TargetGrants>"
            f'<Grant><Grantee {XSI} xsi:type="AmazonCustomerByEmail"><EmailAddress>LISA@strata.local'
            "</EmailAddress></Grantee><Permission>READ</Permission></Grant></TargetGrants>"
            "<TargetObjectKeyFormat><SimplePrefix/></TargetObjectKeyFormat>"
        ),
        accounts,
    )
    assert parsed == LoggingStatus("logs", "p/", (Grant("user", lisa.canonical_id, "READ"),), "simple")
    assert parsed is not None and LoggingStatus.from_bytes(parsed.to_bytes()) == parsed
    rendered = document(logging_document(parsed.to_bytes(), accounts)).decode()
    assert f"<ID>{lisa.canonical_id}</ID><DisplayName>{lisa.display_name}</DisplayName>" in rendered
    assert "<TargetObjectKeyFormat><SimplePrefix></SimplePrefix></TargetObjectKeyFormat>" in rendered


def test_an_unknown_email_is_unresolvable(accounts: AccountStore) -> None:
    body = status(
        "<TargetBucket>logs</TargetBucket><TargetPrefix>p/</TargetPrefix><TargetGrants><Grant>"
        f'<Grantee {XSI} xsi:type="AmazonCustomerByEmail"><EmailAddress>nobody@example.test</EmailAddress>'
        "</Grantee><Permission>READ</Permission></Grant></TargetGrants>"
    )
    with pytest.raises(errors.UnresolvableGrantByEmailAddress):
        parse_logging_status(body, accounts)


@pytest.mark.parametrize(
    "enabled",
    [
        "<TargetBucket>logs</TargetBucket>",
        "<TargetBucket></TargetBucket><TargetPrefix>p</TargetPrefix>",
        "<TargetBucket>a</TargetBucket><TargetBucket>b</TargetBucket><TargetPrefix>p</TargetPrefix>",
        "<TargetBucket>a</TargetBucket><TargetPrefix>p</TargetPrefix>"
        "<TargetObjectKeyFormat><PartitionedPrefix><PartitionDateSource>Yesterday</PartitionDateSource>"
        "</PartitionedPrefix></TargetObjectKeyFormat>",
    ],
)
def test_malformed_statuses_are_refused(accounts: AccountStore, enabled: str) -> None:
    with pytest.raises(errors.MalformedXML):
        parse_logging_status(status(enabled), accounts)


def test_logging_off_renders_an_empty_status(accounts: AccountStore) -> None:
    assert document(logging_document(b"", accounts)).endswith(
        b'<BucketLoggingStatus xmlns="http://s3.amazonaws.com/doc/2006-03-01/"/>'
    )
