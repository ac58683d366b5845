"""ListBuckets pagination and filters (max-buckets, continuation-token, prefix, bucket-region), through boto3."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import OTHER_ACCESS_KEY, OTHER_SECRET_KEY, other_location, s3_client
from tests.integration.test_buckets import error_of


@pytest.fixture
def named(s3, server) -> Iterator[tuple[str, list[str]]]:
    """Five buckets sharing a fresh prefix (two in another location), and another account's bucket
    under the same prefix."""
    prefix = f"lb-{uuid.uuid4().hex[:8]}-"
    names = [f"{prefix}{index}" for index in range(5)]
    for index, name in enumerate(names):
        if index in (1, 3):
            s3.create_bucket(
                Bucket=name, CreateBucketConfiguration={"LocationConstraint": other_location(server)}
            )
        else:
            s3.create_bucket(Bucket=name)
    yield prefix, names
    for name in names:
        s3.delete_bucket(Bucket=name)


@pytest.fixture
def other_account_bucket(server, named: tuple[str, list[str]]) -> Iterator[str]:
    other = s3_client(server.url, OTHER_ACCESS_KEY, OTHER_SECRET_KEY)
    name = f"{named[0]}other"
    other.create_bucket(Bucket=name)
    yield name
    other.delete_bucket(Bucket=name)


def test_max_buckets_pages_through_owned_buckets_with_continuation_tokens(
    s3, named: tuple[str, list[str]], other_account_bucket: str
) -> None:
    prefix, names = named
    seen: list[str] = []
    token: str | None = None
    pages = 0
    while True:
        kwargs = {"ContinuationToken": token} if token else {}
        page = s3.list_buckets(MaxBuckets=2, Prefix=prefix, **kwargs)
        pages += 1
        assert page["Prefix"] == prefix
        assert len(page["Buckets"]) <= 2
        seen.extend(bucket["Name"] for bucket in page["Buckets"])
        token = page.get("ContinuationToken")
        if token is None:
            break
    assert seen == names
    assert other_account_bucket not in seen
    assert pages == 3


def test_exact_page_has_no_continuation_token(s3, named: tuple[str, list[str]]) -> None:
    prefix, names = named
    page = s3.list_buckets(MaxBuckets=5, Prefix=prefix)
    assert [bucket["Name"] for bucket in page["Buckets"]] == names
    assert "ContinuationToken" not in page
    first = s3.list_buckets(MaxBuckets=4, Prefix=prefix)
    assert "ContinuationToken" in first
    last = s3.list_buckets(MaxBuckets=4, Prefix=prefix, ContinuationToken=first["ContinuationToken"])
    assert [bucket["Name"] for bucket in last["Buckets"]] == names[4:]
    assert "ContinuationToken" not in last


def test_paginator_collects_every_page(s3, named: tuple[str, list[str]]) -> None:
    prefix, names = named
    pages = list(s3.get_paginator("list_buckets").paginate(Prefix=prefix, PaginationConfig={"PageSize": 2}))
    assert [len(page["Buckets"]) for page in pages] == [2, 2, 1]
    assert [bucket["Name"] for page in pages for bucket in page["Buckets"]] == names
    built = s3.get_paginator("list_buckets").paginate(Prefix=prefix, PaginationConfig={"PageSize": 2})
    assert [bucket["Name"] for bucket in built.build_full_result()["Buckets"]] == names


def test_prefix_filters_and_unpaginated_listing_returns_everything(s3, named: tuple[str, list[str]]) -> None:
    prefix, names = named
    everything = s3.list_buckets()
    assert set(names) <= {bucket["Name"] for bucket in everything["Buckets"]}
    assert "ContinuationToken" not in everything and "Prefix" not in everything
    only_three = s3.list_buckets(Prefix=names[3])
    assert [bucket["Name"] for bucket in only_three["Buckets"]] == [names[3]]
    assert s3.list_buckets(Prefix=f"{prefix}x")["Buckets"] == []


def test_bucket_region_is_reported_and_filters(s3, server, named: tuple[str, list[str]]) -> None:
    prefix, names = named
    regions = {bucket["Name"]: bucket["BucketRegion"] for bucket in s3.list_buckets(Prefix=prefix)["Buckets"]}
    assert regions == {
        name: other_location(server) if index in (1, 3) else "us-east-1" for index, name in enumerate(names)
    }
    in_mem = s3.list_buckets(Prefix=prefix, BucketRegion=other_location(server))
    assert [bucket["Name"] for bucket in in_mem["Buckets"]] == [names[1], names[3]]
    first = s3.list_buckets(Prefix=prefix, BucketRegion="us-east-1", MaxBuckets=2)
    assert [bucket["Name"] for bucket in first["Buckets"]] == [names[0], names[2]]
    rest = s3.list_buckets(
        Prefix=prefix, BucketRegion="us-east-1", MaxBuckets=2, ContinuationToken=first["ContinuationToken"]
    )
    assert [bucket["Name"] for bucket in rest["Buckets"]] == [names[4]]
    assert "ContinuationToken" not in rest
    assert s3.list_buckets(Prefix=prefix, BucketRegion="nowhere-1")["Buckets"] == []


@pytest.mark.parametrize("raw", ["0", "10001", "-1", "ten", ""])
def test_max_buckets_out_of_range_is_invalid_argument(s3, raw: str) -> None:
    # botocore refuses such values itself, so the query is put on the wire directly.
    def set_raw_max_buckets(request, **kwargs) -> None:
        request.url = request.url.split("?")[0] + f"?max-buckets={raw}"

    s3.meta.events.register("before-sign.s3.ListBuckets", set_raw_max_buckets)
    try:
        with pytest.raises(ClientError) as excinfo:
            s3.list_buckets()
    finally:
        s3.meta.events.unregister("before-sign.s3.ListBuckets", set_raw_max_buckets)
    assert error_of(excinfo) == ("InvalidArgument", 400)
    assert excinfo.value.response["Error"].get("ArgumentName") == "max-buckets"


def test_max_buckets_bounds_are_accepted(s3, named: tuple[str, list[str]]) -> None:
    prefix, names = named
    assert [b["Name"] for b in s3.list_buckets(MaxBuckets=1, Prefix=prefix)["Buckets"]] == names[:1]
    assert [b["Name"] for b in s3.list_buckets(MaxBuckets=10000, Prefix=prefix)["Buckets"]] == names


def test_undecodable_continuation_token_is_invalid_argument(s3) -> None:
    with pytest.raises(ClientError) as excinfo:
        s3.list_buckets(MaxBuckets=2, ContinuationToken="%%%not-a-token")
    assert error_of(excinfo) == ("InvalidArgument", 400)
