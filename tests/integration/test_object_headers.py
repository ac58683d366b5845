from __future__ import annotations

import pytest


def test_response_overrides_replace_stored_headers(s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"data", ContentType="text/plain", CacheControl="no-cache")
    overrides = {
        "ResponseContentType": "application/json",
        "ResponseContentDisposition": 'attachment; filename="x.json"',
        "ResponseContentEncoding": "identity",
        "ResponseContentLanguage": "fr",
        "ResponseCacheControl": "max-age=5",
        "ResponseExpires": "Thu, 01 Dec 2044 16:00:00 GMT",
    }
    got = s3.get_object(Bucket=bucket, Key="k", **overrides)
    headers = got["ResponseMetadata"]["HTTPHeaders"]
    assert got["Body"].read() == b"data"
    assert headers["content-type"] == "application/json"
    assert headers["content-disposition"] == 'attachment; filename="x.json"'
    assert headers["content-encoding"] == "identity"
    assert headers["content-language"] == "fr"
    assert headers["cache-control"] == "max-age=5"
    assert headers["expires"] == "Thu, 01 Dec 2044 16:00:00 GMT"
    # Overrides change the response only.
    assert s3.head_object(Bucket=bucket, Key="k")["ContentType"] == "text/plain"


@pytest.mark.parametrize("location", ["/other/page.html", "https://example.com/elsewhere"])
def test_website_redirect_location_is_stored(s3, bucket, location: str) -> None:
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", WebsiteRedirectLocation=location)
    assert s3.head_object(Bucket=bucket, Key="k")["WebsiteRedirectLocation"] == location
    assert s3.get_object(Bucket=bucket, Key="k")["WebsiteRedirectLocation"] == location
