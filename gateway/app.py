"""The aiohttp S3 application: one catch-all route, one error catch point."""

from __future__ import annotations

import logging
import time

from aiohttp import web

from gateway.access import SELF_AUTHENTICATED_OPERATIONS, anonymous_request_allowed
from gateway.api import HANDLERS
from gateway.api.unsupported import check_request
from gateway.context import GatewayServices, RequestContext
from gateway.cors_response import cors_response_headers, remember_cors_bucket, remember_request_bucket
from gateway.health import health_report
from gateway.limits import GATEWAY_OPTIONS, BodyIdleWatchdog
from gateway.runner import SERVER_HEADER, error_response
from gateway.s3 import errors
from gateway.s3.auth import AuthResult
from gateway.s3.router import Endpoint, route
from gateway.s3.validation import validate_header_text
from gateway.website.endpoints import request_website_bucket
from gateway.website.serve import serve_website
from protos.errors import StrataError
from protos.metadata_pb2 import BucketName
from strata.runtime.log import log_fields, new_request_id, request_id_var
from strata.runtime.metrics import S3_REQUEST_METRICS

log = logging.getLogger("gateway")

SERVICES = web.AppKey("services", GatewayServices)
OPERATION = web.RequestKey(
    "strata.operation", str
)  # set once a request is routed: its errors are counted under it too
CLIENT_CLOSED_REQUEST = 499  # logged (never sent) when the client went away mid-request


def build_app(services: GatewayServices) -> web.Application:
    app = web.Application(client_max_size=1024**2 * 8)
    app[SERVICES] = services
    app.on_response_prepare.append(_server_header)
    # -- CORS: Access-Control-* headers on the answers to cross-origin requests (gateway/cors_response.py)
    app.on_response_prepare.append(
        cors_response_headers(lambda name: services.metadata.get_bucket(BucketName(name=name)))
    )
    app.router.add_get("/_/healthcheck", healthcheck)
    app.router.add_route("*", "/{tail:.*}", handle_s3, expect_handler=expect_continue)
    return app


async def _server_header(request: web.Request, response: web.StreamResponse) -> None:
    """The same Server header on every response (health checks and aiohttp's own answers included)."""
    response.headers["Server"] = SERVER_HEADER


async def healthcheck(request: web.Request) -> web.Response:
    report = await health_report(request.app[SERVICES])
    # Without its metadata a gateway can serve nothing: a load balancer should send traffic elsewhere.
    status = 200 if report["metadata"]["code"] == 200 else 503
    return web.json_response(report, status=status)


async def handle_s3(request: web.Request) -> web.StreamResponse:
    request_id = new_request_id()
    token = request_id_var.set(request_id)
    started = time.monotonic()
    status = 500
    response: web.StreamResponse | None = None
    try:
        services = request.app[SERVICES]
        watchdog = _body_watchdog(request)
        try:
            response = await _dispatch(request, request_id, services)
        except errors.S3Error as error:
            response = _error_response(request, request_id, error)
            if error.closes_connection:
                response.force_close()
        except StrataError as error:
            response = _error_response(request, request_id, errors.from_strata_error(error))
        except web.HTTPException as error:
            status = error.status
            raise
        except ConnectionResetError:
            status = CLIENT_CLOSED_REQUEST
            raise
        except Exception:
            log.exception("unhandled error")
            response = _error_response(request, request_id, errors.InternalError())
        finally:
            if watchdog is not None:
                watchdog.stop()
        if watchdog is not None and watchdog.fired:
            response.force_close()  # the rest of a stalled body must not be read as the next request
        status = response.status
        return response
    finally:
        operation = request.get(OPERATION, "-")
        _log_request(request, status, operation, started)
        _count_request(request, response, status, operation, started)
        request_id_var.reset(token)


def _count_request(
    request: web.Request, response: web.StreamResponse | None, status: int, operation: str, started: float
) -> None:
    # The body's declared size: a streamed answer is counted whole even if its client left early.
    sent = (response.content_length or 0) if response is not None and request.method != "HEAD" else 0
    S3_REQUEST_METRICS.observe(
        operation, status, time.monotonic() - started, request.content.total_bytes, sent
    )


def _log_request(request: web.Request, status: int, operation: str, started: float) -> None:
    """The one access-log line of a request (under its request id)."""
    log.info(
        "%s %s %s",
        request.method,
        request.path,
        status,
        extra=log_fields(op=operation, status=status, ms=round((time.monotonic() - started) * 1000, 1)),
    )


def _body_watchdog(request: web.Request) -> BodyIdleWatchdog | None:
    options = request.app.get(GATEWAY_OPTIONS)
    if options is None or not request.body_exists or options.body_idle_timeout_s <= 0:
        return None
    return BodyIdleWatchdog(request.content, options.body_idle_timeout_s)


class _Response(web.StreamResponse):
    operation: str


async def expect_continue(request: web.Request) -> web.StreamResponse | None:
    """Answers ``Expect: 100-continue`` only once the request is routed and authenticated."""
    started = time.monotonic()
    if request.headers.get("Expect", "").lower() != "100-continue":
        raise web.HTTPExpectationFailed(text="Unknown Expect: " + request.headers.get("Expect", ""))
    # ---- static website endpoints (gateway.website): answered without reading any body ----
    if request_website_bucket(request, request.app[SERVICES].website_endpoints()) is not None:
        return None
    try:
        try:
            _authorize(request, request.app[SERVICES])
        except StrataError as error:
            raise errors.from_strata_error(error) from None
    except errors.S3Error as error:
        request_id = new_request_id()
        response = _error_response(request, request_id, error)
        # The client holds the body back; closing keeps it from being read as the next request.
        response.force_close()
        token = request_id_var.set(request_id)
        try:
            # Refused before its body was sent: the request ends here, so its log line is written here.
            operation = request.get(OPERATION, "-")
            _log_request(request, response.status, operation, started)
            _count_request(request, response, response.status, operation, started)
        finally:
            request_id_var.reset(token)
        return response
    if request.version >= (1, 1):
        await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
    return None


def _authorize(request: web.Request, services: GatewayServices) -> tuple[Endpoint, AuthResult]:
    """Routes and authenticates the request; raises AccessDenied for anonymous requests not allowed."""
    raw_path, _, raw_query = request.raw_path.partition("?")
    endpoint = route(
        request.method,
        raw_path,
        request.query,
        request.host,
        services.rest_endpoints().keys(),
        request.headers,
    )
    request[OPERATION] = endpoint.operation
    remember_request_bucket(request, endpoint)  # CORS: even an authentication error carries its headers
    auth = services.authenticator.authenticate(
        request.method,
        raw_path,
        raw_query,
        request.headers,
        virtual_host_bucket=endpoint.bucket if endpoint.virtual_host else None,
    )
    if (
        auth.principal.is_anonymous
        and endpoint.operation not in SELF_AUTHENTICATED_OPERATIONS
        and not anonymous_request_allowed(endpoint)
    ):
        raise errors.AccessDenied()
    validate_header_text(request.headers)
    # Before any body is read: a feature asked for and not done here is refused, never ignored.
    check_request(endpoint.operation, request.headers)
    return endpoint, auth


async def _dispatch(request: web.Request, request_id: str, services: GatewayServices) -> web.StreamResponse:
    # ---- static website endpoints (gateway.website): HTML answers, anonymous reads only ----
    website_bucket = request_website_bucket(request, services.website_endpoints())
    if website_bucket is not None:
        request[OPERATION] = "WebsiteGet"
        remember_cors_bucket(request, website_bucket)  # its answers carry the bucket's CORS headers
        return await serve_website(request, request_id, services, website_bucket)
    endpoint, auth = _authorize(request, services)
    ctx = RequestContext(request, request_id, endpoint, auth, services)
    handler = HANDLERS.get(endpoint.operation)
    if handler is None:
        raise errors.S3NotImplemented(f"{endpoint.operation} is not implemented")
    response = await handler(ctx)
    response.headers.setdefault("x-amz-request-id", request_id)
    response.headers.setdefault("x-amz-id-2", request_id)
    response.headers.setdefault("Server", SERVER_HEADER)
    response.operation = endpoint.operation  # type: ignore[attr-defined]
    return response


def _error_response(request: web.Request, request_id: str, error: errors.S3Error) -> web.Response:
    return error_response(error, request_id, request.path, head=request.method == "HEAD")
