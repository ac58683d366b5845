"""Serving a bucket as a static website: GET and HEAD from anyone, answered in HTML when they fail.

Every object read is authorized as an anonymous GetObject of that key through the one decision
point (:mod:`gateway.authz.enforce`), so exactly what a bucket policy or a public-read ACL opens is
served; a key nobody may list is AccessDenied when missing, as on the REST endpoint. In order:

1. no such bucket / no website configuration: 404 (NoSuchBucket / NoSuchWebsiteConfiguration);
2. ``RedirectAllRequestsTo``: 301 to the same key on that host;
3. a routing rule without an error condition that matches the key: its redirect;
4. the object (a folder's index document): 301 to its ``x-amz-website-redirect-location`` if it has
   one, else its bytes (conditions and ranges as GetObject);
5. a missing ``key`` whose ``key/`` index document exists: 302 to ``key/``;
6. an error: a routing rule matching the key and the error's status redirects; else the error
   document with the error's status; else an HTML page naming the error.
"""

from __future__ import annotations

import logging
from urllib.parse import unquote_to_bytes

from aiohttp import web

from gateway.api.bucket_cors import preflight
from gateway.api.common import object_headers
from gateway.api.object_get import answer_read, stream_object
from gateway.api.versioning import find_object
from gateway.authz.enforce import decide_bucket
from gateway.context import GatewayServices, RequestContext
from gateway.s3 import errors
from gateway.s3.auth import ANONYMOUS, UNSIGNED, AuthResult
from gateway.s3.router import Endpoint
from gateway.website.config import WebsiteConfig
from gateway.website.html import error_page
from gateway.website.routing import RedirectTo, index_key, matching_rule, redirect_all, rule_redirect
from protos.errors import StrataError
from protos.metadata_pb2 import BucketInfo, BucketName, ObjectMD

log = logging.getLogger("gateway.website")

WEBSITE_METHODS = ("GET", "HEAD")


class _Site:
    """One website request: its bucket, configuration and the anonymous reads it makes."""

    def __init__(
        self, request: web.Request, request_id: str, services: GatewayServices, bucket: BucketInfo
    ) -> None:
        self.request = request
        self.request_id = request_id
        self.services = services
        self.bucket = bucket
        self.config = WebsiteConfig.from_bytes(bucket.website)
        self.head = request.method == "HEAD"

    def context(self, key: str) -> RequestContext:
        operation = "HeadObject" if self.head else "GetObject"
        endpoint = Endpoint(operation, self.bucket.name, key, "s3:GetObject")
        auth = AuthResult(principal=ANONYMOUS, payload=UNSIGNED)
        return RequestContext(self.request, self.request_id, endpoint, auth, self.services)

    async def readable(self, key: str) -> tuple[RequestContext, ObjectMD]:
        """The object ``key`` if an anonymous GetObject of it is allowed; the S3 error otherwise."""
        ctx = self.context(key)
        if not decide_bucket(ctx, self.bucket):
            raise errors.AccessDenied()
        try:
            return ctx, await find_object(ctx, self.bucket, key, None)
        except StrataError as error:
            raise errors.from_strata_error(error, self.bucket.name, key) from None

    def redirect(self, to: RedirectTo) -> web.StreamResponse:
        return web.Response(status=to.status, headers={"Location": to.location})


async def serve_website(
    request: web.Request, request_id: str, services: GatewayServices, bucket_name: str
) -> web.StreamResponse:
    """The website answer to ``request`` for ``bucket_name``; never raises an S3 error."""
    head = request.method == "HEAD"
    try:
        if request.method == "OPTIONS":  # a cross-origin preflight: the bucket's CORS rules answer
            return await preflight(request.headers, services, bucket_name, "OBJECT")
        if request.method not in WEBSITE_METHODS:
            raise errors.MethodNotAllowed(Method=request.method, ResourceType="OBJECT")
        key = _request_key(request)
        bucket = await _website_bucket(services, bucket_name)
        response = await _serve(_Site(request, request_id, services, bucket), key)
    except errors.S3Error as error:
        return _html_error(error, request_id, head)
    except StrataError as error:
        return _html_error(errors.from_strata_error(error, bucket_name), request_id, head)
    if not response.prepared:  # a streamed object was sent with its own headers
        response.headers.setdefault("x-amz-request-id", request_id)
        response.headers.setdefault("x-amz-id-2", request_id)
    return response


def _request_key(request: web.Request) -> str:
    raw_path = request.raw_path.split("?", 1)[0]
    try:
        return unquote_to_bytes(raw_path[1:]).decode("utf-8")
    except UnicodeDecodeError:
        raise errors.InvalidURI() from None


async def _website_bucket(services: GatewayServices, name: str) -> BucketInfo:
    if not name:
        raise errors.NoSuchBucket(BucketName=name)
    try:
        bucket = await services.metadata.get_bucket(BucketName(name=name))
    except StrataError as error:
        raise errors.from_strata_error(error, name) from None
    if not bucket.website:
        raise errors.NoSuchWebsiteConfiguration(BucketName=name)
    return bucket


async def _serve(site: _Site, key: str) -> web.StreamResponse:
    config = site.config
    scheme, host = site.request.scheme, site.request.host
    if config.redirect_all is not None:
        return site.redirect(redirect_all(config.redirect_all, key, scheme))
    rule = matching_rule(config.routing_rules, key)
    if rule is not None:
        return site.redirect(rule_redirect(rule, key, scheme, host))
    target = index_key(key, config)
    try:
        ctx, md = await site.readable(target)
    except errors.S3Error as error:
        if error.status not in (403, 404):
            raise
        if target == key and key and await _has_folder_index(site, key):
            return site.redirect(RedirectTo("/" + key + "/", 302))
        rule = matching_rule(config.routing_rules, key, error.status)
        if rule is not None:
            return site.redirect(rule_redirect(rule, key, scheme, host))
        return await _error_document(site, error)
    if md.website_redirect_location:
        return site.redirect(RedirectTo(md.website_redirect_location, 301))
    return await answer_read(ctx, md, site.head)


async def _has_folder_index(site: _Site, key: str) -> bool:
    """Whether ``key/`` has a readable index document (a folder asked for without its slash)."""
    try:
        await site.readable(index_key(key + "/", site.config))
    except errors.S3Error:
        return False
    return True


async def _error_document(site: _Site, error: errors.S3Error) -> web.StreamResponse:
    """The configured error document, answered with ``error``'s status; an HTML page without one."""
    error_key = site.config.error_key
    if error_key is None:
        raise error
    try:
        ctx, md = await site.readable(error_key)
    except errors.S3Error as document_error:
        return _html_error(error, site.request_id, site.head, document_error)
    headers = object_headers(md)
    headers.pop("Accept-Ranges", None)
    if site.head:
        response = web.StreamResponse(status=error.status, headers=headers)
        response.content_length = md.size
        return response
    return await stream_object(ctx, md, error.status, headers, 0, md.size)


def _html_error(
    error: errors.S3Error, request_id: str, head: bool, document_error: errors.S3Error | None = None
) -> web.Response:
    headers = {**error.headers, "x-amz-request-id": request_id, "x-amz-id-2": request_id}
    if head:
        return web.Response(status=error.status, headers=headers)
    body = error_page(error, request_id, document_error)
    return web.Response(
        status=error.status, body=body, content_type="text/html", charset="utf-8", headers=headers
    )
