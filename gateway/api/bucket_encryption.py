"""Bucket default encryption: Put/Get/DeleteBucketEncryption, and CloudServer's encrypted buckets
(``x-amz-scal-server-side-encryption: AES256`` on CreateBucket).

A bucket with a default seals every new object written without an encryption header as SSE-S3
(gateway.crypto.sse). Stored form (``BucketInfo.encryption``): ``{"algorithm": "AES256",
"bucket_key": null | true | false}``; empty bytes mean no default. SSE-KMS (``aws:kms``) is not
built, so a configuration asking for it answers NotImplemented rather than being stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from aiohttp import web

from gateway.api.checksums import verify_small_body
from gateway.api.common import owned_bucket, update_bucket_settings, xml_response
from gateway.context import RequestContext
from gateway.crypto import sse
from gateway.s3 import errors
from gateway.s3.xml import MAX_REQUEST_XML_BYTES, element, optional, parse
from protos.metadata_pb2 import BucketInfo

SCAL_SSE_HEADER = "x-amz-scal-server-side-encryption"
SCAL_KMS_KEY_HEADER = "x-amz-scal-server-side-encryption-aws-kms-key-id"
_ALGORITHMS = frozenset({sse.SSE_S3, "aws:kms", "aws:kms:dsse"})
_RULE_FIELDS = frozenset({"ApplyServerSideEncryptionByDefault", "BucketKeyEnabled"})
_DEFAULT_FIELDS = frozenset({"SSEAlgorithm", "KMSMasterKeyID"})


@dataclass(frozen=True)
class DefaultEncryption:
    algorithm: str
    bucket_key: bool | None = None

    def to_bytes(self) -> bytes:
        return json.dumps({"algorithm": self.algorithm, "bucket_key": self.bucket_key}).encode()

    @classmethod
    def from_bytes(cls, stored: bytes) -> DefaultEncryption | None:
        if not stored:
            return None
        document = json.loads(stored)
        return cls(document["algorithm"], document.get("bucket_key"))


def bucket_default(bucket: BucketInfo) -> DefaultEncryption | None:
    return DefaultEncryption.from_bytes(bucket.encryption)


def parse_encryption_configuration(body: bytes) -> DefaultEncryption:
    """The default a PutBucketEncryption body asks for (one rule, as S3 takes)."""
    root = parse(body, "ServerSideEncryptionConfiguration")
    rules = list(root)
    if len(rules) != 1 or rules[0].tag != "Rule":
        raise errors.MalformedXML()
    rule = rules[0]
    tags = [node.tag for node in rule]
    if len(tags) != len(set(tags)) or not set(tags) <= _RULE_FIELDS:
        raise errors.MalformedXML()
    bucket_key: bool | None = None
    raw_bucket_key = rule.findtext("BucketKeyEnabled")
    if raw_bucket_key is not None:
        if raw_bucket_key.strip() not in ("true", "false"):
            raise errors.MalformedXML()
        bucket_key = raw_bucket_key.strip() == "true"
    by_default = rule.find("ApplyServerSideEncryptionByDefault")
    if by_default is None:
        raise errors.MalformedXML()
    fields = [node.tag for node in by_default]
    if len(fields) != len(set(fields)) or not set(fields) <= _DEFAULT_FIELDS:
        raise errors.MalformedXML()
    algorithm = (by_default.findtext("SSEAlgorithm") or "").strip()
    if algorithm not in _ALGORITHMS:
        raise errors.MalformedXML()
    if by_default.find("KMSMasterKeyID") is not None and algorithm == sse.SSE_S3:
        raise errors.InvalidArgument(
            "a KMSMasterKeyID is not applicable if the default sse algorithm is not aws:kms or aws:kms:dsse",
            ArgumentName="ApplyServerSideEncryptionByDefault",
        )
    if algorithm != sse.SSE_S3:
        raise errors.S3NotImplemented(f"Default encryption with {algorithm} (SSE-KMS) is not implemented.")
    return DefaultEncryption(algorithm, bucket_key)


def created_bucket_encryption(headers: Mapping[str, str]) -> bytes:
    """``BucketInfo.encryption`` for a CreateBucket asking for an encrypted bucket (the reference's
    ``x-amz-scal-server-side-encryption``); empty when it does not ask."""
    value = headers.get(SCAL_SSE_HEADER)
    if value is None:
        if headers.get(SCAL_KMS_KEY_HEADER) is not None:
            raise errors.InvalidArgument(
                f"{SCAL_KMS_KEY_HEADER} requires {SCAL_SSE_HEADER}: aws:kms", ArgumentName=SCAL_KMS_KEY_HEADER
            )
        return b""
    if value not in _ALGORITHMS:
        raise errors.InvalidArgument(
            "The encryption method specified is not supported",
            ArgumentName=SCAL_SSE_HEADER,
            ArgumentValue=value,
        )
    if value != sse.SSE_S3:
        raise errors.S3NotImplemented(
            f"Encrypted buckets with {value} are not implemented (header {SCAL_SSE_HEADER}).",
            Header=SCAL_SSE_HEADER,
        )
    if headers.get(SCAL_KMS_KEY_HEADER) is not None:
        raise errors.InvalidArgument(
            f"{SCAL_KMS_KEY_HEADER} is not applicable to AES256", ArgumentName=SCAL_KMS_KEY_HEADER
        )
    return DefaultEncryption(sse.SSE_S3).to_bytes()


async def _config_body(ctx: RequestContext) -> bytes:
    body = await ctx.request.content.read(MAX_REQUEST_XML_BYTES + 1)
    if len(body) > MAX_REQUEST_XML_BYTES or not body.strip():
        raise errors.MalformedXML()
    verify_small_body(ctx.headers, body)
    return body


async def put_bucket_encryption(ctx: RequestContext) -> web.StreamResponse:
    body = await _config_body(ctx)
    bucket = await owned_bucket(ctx)
    await update_bucket_settings(ctx, bucket, encryption=parse_encryption_configuration(body).to_bytes())
    return web.Response(status=200)


async def get_bucket_encryption(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    default = bucket_default(bucket)
    if default is None:
        raise errors.ServerSideEncryptionConfigurationNotFoundError(BucketName=bucket.name)
    bucket_key = None if default.bucket_key is None else str(default.bucket_key).lower()
    return xml_response(
        element(
            "ServerSideEncryptionConfiguration",
            None,
            element(
                "Rule",
                None,
                element(
                    "ApplyServerSideEncryptionByDefault", None, element("SSEAlgorithm", default.algorithm)
                ),
                optional("BucketKeyEnabled", bucket_key),
            ),
        )
    )


async def delete_bucket_encryption(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    await update_bucket_settings(ctx, bucket, encryption=b"")
    return web.Response(status=204)
