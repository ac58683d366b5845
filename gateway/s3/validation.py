"""Bucket name and object key rules (AWS general-purpose bucket naming rules)."""

from __future__ import annotations

import ipaddress
import re

from gateway.s3.errors import InvalidBucketName, KeyTooLongError

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


def _looks_like_ip(name: str) -> bool:
    try:
        ipaddress.IPv4Address(name)
    except ValueError:
        return False
    return True
