"""Bucket name and object key rules (AWS general-purpose bucket naming rules), and the text of the
request headers an object keeps."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping

from gateway.s3.errors import InvalidArgument, InvalidBucketName, KeyTooLongError

MAX_KEY_BYTES = 1024
_BUCKET_CHARS = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
_RESERVED_PREFIXES = ("xn--", "sthree-", "sthree-configurator", "amzn-s3-demo-")
_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def validate_bucket_name(name: str) -> None:
    """Raises InvalidBucketName unless ``name`` follows the S3 bucket naming rules."""
    if not _BUCKET_CHARS.match(name):
        raise InvalidBucketName(BucketName=name)
    if ".." in name or ".-" in name or "-." in name:
        raise InvalidBucketName(BucketName=name)
    if _looks_like_ip(name):
        raise InvalidBucketName(BucketName=name)
    if name.startswith(_RESERVED_PREFIXES) or name.endswith(_RESERVED_SUFFIXES):
        raise InvalidBucketName(BucketName=name)


def validate_key(key: str) -> None:
    """Raises KeyTooLongError when the key's UTF-8 form exceeds 1024 bytes."""
    size = len(key.encode("utf-8", "surrogatepass"))
    if size > MAX_KEY_BYTES:
        raise KeyTooLongError(Size=size, MaxSizeAllowed=MAX_KEY_BYTES)


# Request headers whose values are stored or echoed: their text must survive as UTF-8.
_TEXT_HEADERS = frozenset(
    {
        "content-type",
        "content-encoding",
        "content-disposition",
        "content-language",
        "cache-control",
        "expires",
    }
)


def validate_header_text(headers: Mapping[str, str]) -> None:
    """Raises InvalidArgument for an x-amz-* or stored content header whose bytes are not UTF-8.

    aiohttp decodes header bytes as UTF-8 with surrogateescape, so such a value holds surrogates:
    it could be neither stored nor sent back as the bytes the client sent.
    """
    for name, value in headers.items():
        lowered = name.lower()
        if not (lowered.startswith("x-amz-") or lowered in _TEXT_HEADERS):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidArgument("Header value is not valid UTF-8.", ArgumentName=lowered) from None


def _looks_like_ip(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True
