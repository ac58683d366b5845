import pytest

from gateway.s3 import errors
from gateway.s3.validation import validate_bucket_name, validate_key


@pytest.mark.parametrize(
    "name", ["abc", "my-bucket", "my.bucket.name", "a" * 63, "0bucket9", "bucket-1.example"]
)
def test_valid_bucket_names(name):
    validate_bucket_name(name)


@pytest.mark.parametrize(
    "name",
    [
        "ab",
        "a" * 64,
        "MyBucket",
        "my_bucket",
        "-bucket",
        "bucket-",
        ".bucket",
        "bucket.",
        "my..bucket",
        "my.-bucket",
        "my-.bucket",
        "192.168.5.4",
        "xn--bucket",
        "sthree-bucket",
        "amzn-s3-demo-bucket",
        "bucket-s3alias",
        "bucket--ol-s3",
        "bucket.mrap",
        "bucket--x-s3",
        "with space",
        "",
    ],
)
def test_invalid_bucket_names(name):
    with pytest.raises(errors.InvalidBucketName):
        validate_bucket_name(name)


def test_key_length_is_counted_in_utf8_bytes():
    validate_key("a" * 1024)
    validate_key("é" * 512)
    with pytest.raises(errors.KeyTooLongError):
        validate_key("a" * 1025)
    with pytest.raises(errors.KeyTooLongError):
        validate_key("é" * 513)


def test_header_text_that_is_not_utf8_is_invalid_argument() -> None:
    from gateway.s3.validation import validate_header_text

    # What aiohttp makes of the latin-1 byte 0xE9: a surrogate.
    received = b"caf\xe9".decode("utf-8", "surrogateescape")
    validate_header_text({"x-amz-meta-ok": "café", "User-Agent": received})
    for name in ("x-amz-meta-x", "Content-Disposition", "X-Amz-Tagging"):
        with pytest.raises(errors.InvalidArgument) as caught:
            validate_header_text({name: received})
        assert caught.value.details["ArgumentName"] == name.lower()
