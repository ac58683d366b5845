"""CORS headers on the answers to actual cross-origin requests, errors included.

A request without an ``Origin`` header costs nothing here. With one, the CORS configuration of the
request's bucket is the one its handler already read (:func:`remember_bucket_cors`, called where
every handler reads its bucket); only a request answered before that (an authentication error, a
bucket-less answer) costs one bucket look-up.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web

from gateway.cors import bucket_match
from gateway.s3.router import Endpoint
from protos.errors import StrataError
from protos.metadata_pb2 import BucketInfo

ORIGIN_HEADER = "Origin"
_REQUEST_BUCKET = web.RequestKey("strata.cors.bucket", str)  # the routed request's bucket
_BUCKET_CORS = web.RequestKey("strata.cors.config", bytes)  # that bucket's stored CORS configuration

BucketReader = Callable[[str], Awaitable[BucketInfo]]
ResponseHook = Callable[[web.Request, web.StreamResponse], Awaitable[None]]


def remember_request_bucket(request: web.Request, endpoint: Endpoint) -> None:
    """Notes the bucket a cross-origin request was routed to (its answer may need its rules)."""
    if endpoint.bucket is not None:
        remember_cors_bucket(request, endpoint.bucket)


def remember_cors_bucket(request: web.Request, bucket_name: str) -> None:
    """Notes the bucket whose rules a cross-origin request's answer follows (a website's too)."""
    if ORIGIN_HEADER in request.headers:
        request[_REQUEST_BUCKET] = bucket_name


def remember_bucket_cors(request: web.Request, bucket: BucketInfo) -> None:
    """Keeps the CORS configuration of the request's own bucket, read by its handler."""
    if request.get(_REQUEST_BUCKET) == bucket.name:
        request[_BUCKET_CORS] = bucket.cors


def cors_response_headers(read_bucket: BucketReader) -> ResponseHook:
    """An ``on_response_prepare`` hook adding the matching rule's headers to every answer."""

    async def add_headers(request: web.Request, response: web.StreamResponse) -> None:
        bucket_name = request.get(_REQUEST_BUCKET)
        if bucket_name is None or request.method == "OPTIONS":  # a preflight writes its own
            return
        stored = request.get(_BUCKET_CORS)
        if stored is None:
            try:
                stored = (await read_bucket(bucket_name)).cors
            except StrataError:
                return  # no bucket (or none readable now): no rules apply
        match = bucket_match(stored, request.headers, request.method)
        if match is not None:
            response.headers.update(match.response_headers())

    return add_headers
