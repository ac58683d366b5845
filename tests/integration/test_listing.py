from __future__ import annotations

import pytest


@pytest.fixture
def populated(s3, bucket) -> str:
    keys = ["a.txt", "b/1", "b/2", "b/c/3", "c/x", "d", "e/f/g", "photos/2024/jan.jpg", "photos/2025/feb.jpg"]
    for key in keys:
        s3.put_object(Bucket=bucket, Key=key, Body=key.encode())
    return bucket


def all_pages_v2(s3, **kwargs) -> tuple[list[str], list[str], int]:
    keys: list[str] = []
    prefixes: list[str] = []
    pages = 0
    for page in s3.get_paginator("list_objects_v2").paginate(**kwargs):
        pages += 1
        keys += [item["Key"] for item in page.get("Contents", [])]
        prefixes += [item["Prefix"] for item in page.get("CommonPrefixes", [])]
    return keys, prefixes, pages


def all_pages_v1(s3, **kwargs) -> tuple[list[str], list[str], int]:
    keys: list[str] = []
    prefixes: list[str] = []
    pages = 0
    for page in s3.get_paginator("list_objects").paginate(**kwargs):
        pages += 1
        keys += [item["Key"] for item in page.get("Contents", [])]
        prefixes += [item["Prefix"] for item in page.get("CommonPrefixes", [])]
    return keys, prefixes, pages


@pytest.mark.parametrize("lister", [all_pages_v1, all_pages_v2])
def test_delimiter_listing_with_pagination(s3, populated, lister) -> None:
    keys, prefixes, pages = lister(s3, Bucket=populated, Delimiter="/", PaginationConfig={"PageSize": 2})
    assert keys == ["a.txt", "d"]
    assert prefixes == ["b/", "c/", "e/", "photos/"]
    assert pages == 3


@pytest.mark.parametrize("lister", [all_pages_v1, all_pages_v2])
def test_prefix_and_delimiter(s3, populated, lister) -> None:
    keys, prefixes, _ = lister(s3, Bucket=populated, Prefix="b/", Delimiter="/")
    assert keys == ["b/1", "b/2"]
    assert prefixes == ["b/c/"]
    keys, prefixes, _ = lister(s3, Bucket=populated, Prefix="photos/", Delimiter="/")
    assert (keys, prefixes) == ([], ["photos/2024/", "photos/2025/"])


@pytest.mark.parametrize("lister", [all_pages_v1, all_pages_v2])
def test_flat_listing_paginated_one_by_one(s3, populated, lister) -> None:
    keys, prefixes, pages = lister(s3, Bucket=populated, PaginationConfig={"PageSize": 1})
    assert keys == sorted(keys) and len(keys) == 9 and prefixes == []
    assert pages == 9


def test_v1_marker_and_v2_start_after(s3, populated) -> None:
    v1 = s3.list_objects(Bucket=populated, Marker="b/2")
    assert [o["Key"] for o in v1["Contents"]][:2] == ["b/c/3", "c/x"]
    v2 = s3.list_objects_v2(Bucket=populated, StartAfter="d")
    assert [o["Key"] for o in v2["Contents"]] == ["e/f/g", "photos/2024/jan.jpg", "photos/2025/feb.jpg"]
    assert v2["StartAfter"] == "d"


def test_max_keys_zero_and_key_count(s3, populated) -> None:
    empty = s3.list_objects_v2(Bucket=populated, MaxKeys=0)
    assert empty["KeyCount"] == 0 and "Contents" not in empty
    two = s3.list_objects_v2(Bucket=populated, MaxKeys=2)
    assert two["KeyCount"] == 2 and two["IsTruncated"] is True and two["NextContinuationToken"]


def test_fetch_owner(s3, populated) -> None:
    without = s3.list_objects_v2(Bucket=populated, MaxKeys=1)
    assert "Owner" not in without["Contents"][0]
    with_owner = s3.list_objects_v2(Bucket=populated, MaxKeys=1, FetchOwner=True)
    assert with_owner["Contents"][0]["Owner"]["ID"] == s3.list_buckets()["Owner"]["ID"]


def test_encoding_type_url(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="with space/and+plus", Body=b"x")
    # botocore hands back the names as sent when the caller asked for the encoding itself.
    raw = s3.list_objects_v2(Bucket=bucket, EncodingType="url", Delimiter="/")
    assert [p["Prefix"] for p in raw["CommonPrefixes"]] == ["with%20space/"]
    flat = s3.list_objects_v2(Bucket=bucket, EncodingType="url")
    assert [o["Key"] for o in flat["Contents"]] == ["with%20space/and%2Bplus"]
    # Without it, botocore asks for url encoding itself and decodes the answer.
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket)["Contents"]] == ["with space/and+plus"]
    s3.delete_object(Bucket=bucket, Key="with space/and+plus")


def test_invalid_max_keys(s3, populated) -> None:
    from botocore.exceptions import ClientError

    from tests.integration.test_buckets import error_of

    with pytest.raises(ClientError) as excinfo:
        s3.list_objects(Bucket=populated, MaxKeys=-1)
    assert error_of(excinfo) == ("InvalidArgument", 400)


def test_list_objects_v1_echoes_the_prefix_it_was_given(s3, bucket) -> None:
    for key in ("with space/a", "with space/b+c", "with%20space/d", "100%/e"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x")
    # botocore asks for url encoding itself; it decodes Marker and the names but never V1's Prefix.
    listed = s3.list_objects(Bucket=bucket, Prefix="with space/", Marker="with space/a")
    assert listed["Prefix"] == "with space/"
    assert listed["Marker"] == "with space/a"
    assert [o["Key"] for o in listed["Contents"]] == ["with space/b+c"]
    # The prefix matches as given: a %-sequence in it is literal, never decoded.
    literal = s3.list_objects(Bucket=bucket, Prefix="with%20space/")
    assert literal["Prefix"] == "with%20space/"
    assert [o["Key"] for o in literal["Contents"]] == ["with%20space/d"]
    assert [o["Key"] for o in s3.list_objects(Bucket=bucket, Prefix="100%/")["Contents"]] == ["100%/e"]
    # Asked for explicitly, nothing is decoded by botocore: Marker, Delimiter and names come back encoded.
    raw = s3.list_objects(Bucket=bucket, Prefix="with ", Marker="with a", Delimiter="/", EncodingType="url")
    assert raw["Prefix"] == "with "
    assert raw["Marker"] == "with%20a"
    assert raw["Delimiter"] == "/"
    assert [p["Prefix"] for p in raw["CommonPrefixes"]] == ["with%20space/"]
    # V2 encodes its Prefix (and botocore decodes it).
    assert s3.list_objects_v2(Bucket=bucket, Prefix="with ", EncodingType="url")["Prefix"] == "with%20"
    assert s3.list_objects_v2(Bucket=bucket, Prefix="with ")["Prefix"] == "with "
