from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import s3_client


def put_condition(s3, bucket: str, key: str, body: bytes, **condition: str) -> tuple[str, int]:
    try:
        response = s3.put_object(Bucket=bucket, Key=key, Body=body, **condition)
    except ClientError as error:
        return error.response["Error"]["Code"], error.response["ResponseMetadata"]["HTTPStatusCode"]
    return "OK", response["ResponseMetadata"]["HTTPStatusCode"]


def test_if_none_match_star_creates_only_new_keys(s3, bucket) -> None:
    assert put_condition(s3, bucket, "k", b"first", IfNoneMatch="*") == ("OK", 200)
    assert put_condition(s3, bucket, "k", b"second", IfNoneMatch="*") == ("PreconditionFailed", 412)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"


def test_if_none_match_star_after_delete(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"first")
    s3.delete_object(Bucket=bucket, Key="k")
    assert put_condition(s3, bucket, "k", b"again", IfNoneMatch="*") == ("OK", 200)


def test_if_match_replaces_only_the_expected_version(s3, bucket) -> None:
    etag = s3.put_object(Bucket=bucket, Key="k", Body=b"first")["ETag"]
    assert put_condition(s3, bucket, "k", b"x", IfMatch='"0123456789abcdef0123456789abcdef"') == (
        "PreconditionFailed",
        412,
    )
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"first"
    assert put_condition(s3, bucket, "k", b"second", IfMatch=etag) == ("OK", 200)
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"second"
    # The etag of "first" no longer matches.
    assert put_condition(s3, bucket, "k", b"third", IfMatch=etag) == ("PreconditionFailed", 412)


def test_if_match_on_a_missing_key_is_no_such_key(s3, bucket) -> None:
    assert put_condition(s3, bucket, "absent", b"x", IfMatch='"abc"') == ("NoSuchKey", 404)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="absent")


def test_if_none_match_with_an_etag_is_not_implemented(s3, bucket) -> None:
    assert put_condition(s3, bucket, "k", b"x", IfNoneMatch='"abc"') == ("NotImplemented", 501)


def test_large_conditional_put_that_fails_stores_nothing(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"small")
    assert put_condition(s3, bucket, "k", b"z" * (3 * 1024 * 1024), IfNoneMatch="*") == (
        "PreconditionFailed",
        412,
    )
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"small"


@pytest.mark.parametrize("size", [100, 300 * 1024])
def test_concurrent_if_none_match_puts_have_exactly_one_winner(server, bucket, size: int) -> None:
    contenders = 12
    clients = [s3_client(server.url) for _ in range(contenders)]
    bodies = [bytes([index]) * size for index in range(contenders)]
    with ThreadPoolExecutor(contenders) as pool:
        outcomes = list(
            pool.map(
                lambda index: put_condition(clients[index], bucket, "race", bodies[index], IfNoneMatch="*"),
                range(contenders),
            )
        )
    winners = [index for index, outcome in enumerate(outcomes) if outcome == ("OK", 200)]
    assert len(winners) == 1, outcomes
    losers = [outcome for outcome in outcomes if outcome != ("OK", 200)]
    assert all(
        outcome in {("PreconditionFailed", 412), ("ConditionalRequestConflict", 409)} for outcome in losers
    )
    assert clients[0].get_object(Bucket=bucket, Key="race")["Body"].read() == bodies[winners[0]]


def test_concurrent_if_match_puts_have_exactly_one_winner(server, s3, bucket) -> None:
    etag = s3.put_object(Bucket=bucket, Key="race", Body=b"base")["ETag"]
    contenders = 8
    clients = [s3_client(server.url) for _ in range(contenders)]
    with ThreadPoolExecutor(contenders) as pool:
        outcomes = list(
            pool.map(
                lambda index: put_condition(
                    clients[index], bucket, "race", f"v{index}".encode(), IfMatch=etag
                ),
                range(contenders),
            )
        )
    winners = [index for index, outcome in enumerate(outcomes) if outcome == ("OK", 200)]
    assert len(winners) == 1, outcomes
    assert s3.get_object(Bucket=bucket, Key="race")["Body"].read() == f"v{winners[0]}".encode()
