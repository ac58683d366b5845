"""The small bucket configuration family: request payment, transfer acceleration, access logging.

- Request payment: every bucket here is paid for by its owner. GetBucketRequestPayment answers
  ``BucketOwner``; PutBucketRequestPayment accepts ``BucketOwner`` (it changes nothing) and refuses
  ``Requester`` with NotImplemented, since requester-pays billing is not built.
- Acceleration: never configured, so GetBucketAccelerateConfiguration answers the empty
  configuration AWS gives such a bucket (PutBucketAccelerateConfiguration has no handler: 501).
- Logging: the BucketLoggingStatus is validated, stored in ``BucketInfo.logging`` and returned;
  no access log is delivered (docs/s3-api-support.md says so).
"""

from __future__ import annotations

from aiohttp import web

from gateway.api.bucket_logging import logging_document, parse_logging_status
from gateway.api.common import owned_bucket, update_bucket_settings, xml_response
from gateway.api.config_body import read_config_body
from gateway.context import RequestContext
from gateway.s3 import errors
from gateway.s3.xml import element, parse
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import BucketName

BUCKET_OWNER_PAYS = "BucketOwner"
REQUESTER_PAYS = "Requester"


# ---- request payment ----


def parse_payer(body: bytes) -> str:
    root = parse(body, "RequestPaymentConfiguration")
    payers = root.findall("Payer")
    if len(payers) != 1 or len(root) != 1:
        raise errors.MalformedXML()
    payer = (payers[0].text or "").strip()
    if payer not in (BUCKET_OWNER_PAYS, REQUESTER_PAYS):
        raise errors.MalformedXML()
    return payer


async def get_bucket_request_payment(ctx: RequestContext) -> web.StreamResponse:
    await owned_bucket(ctx)
    return xml_response(element("RequestPaymentConfiguration", None, element("Payer", BUCKET_OWNER_PAYS)))


async def put_bucket_request_payment(ctx: RequestContext) -> web.StreamResponse:
    body = await read_config_body(ctx)
    await owned_bucket(ctx)
    if parse_payer(body) == REQUESTER_PAYS:
        raise errors.S3NotImplemented("Requester Pays buckets are not implemented.")
    return web.Response(status=200)


# ---- transfer acceleration ----


async def get_bucket_accelerate_configuration(ctx: RequestContext) -> web.StreamResponse:
    await owned_bucket(ctx)
    return xml_response(element("AccelerateConfiguration"))


# ---- logging ----


async def put_bucket_logging(ctx: RequestContext) -> web.StreamResponse:
    body = await read_config_body(ctx)
    bucket = await owned_bucket(ctx)
    status = parse_logging_status(body, ctx.services.authenticator.accounts())
    if status is not None:
        try:
            target = await ctx.services.metadata.get_bucket(BucketName(name=status.target_bucket))
        except StrataError as error:
            if error.reason != ErrorReason.NO_SUCH_BUCKET:
                raise
            raise errors.InvalidTargetBucketForLogging(
                "The target bucket for logging does not exist", TargetBucket=status.target_bucket
            ) from None
        if target.owner_id != bucket.owner_id:
            raise errors.InvalidTargetBucketForLogging(
                "The owner for the bucket to be logged and the target bucket must be the same.",
                TargetBucket=status.target_bucket,
            )
    stored = status.to_bytes() if status is not None else b""
    await update_bucket_settings(ctx, bucket, logging=stored)
    return web.Response(status=200)


async def get_bucket_logging(ctx: RequestContext) -> web.StreamResponse:
    bucket = await owned_bucket(ctx)
    return xml_response(logging_document(bucket.logging, ctx.services.authenticator.accounts()))
