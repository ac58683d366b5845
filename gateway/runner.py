"""The aiohttp runner of the S3 port: aiohttp's own error answers (malformed HTTP) become S3 errors.

aiohttp answers a request it cannot parse (oversized headers, bad chunked framing, a
garbage request line) itself, as plain text with its own ``Server`` header, and logs
the parser's exception with a traceback at error level. A client's malformed request
is not a server fault: here it is an S3 XML ``400`` with the gateway's headers and one
warning line.
"""

from __future__ import annotations

import logging

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_protocol import RequestHandler, _ErrInfo
from aiohttp.web_request import BaseRequest

from gateway.s3 import errors
from strata.runtime.log import new_request_id

log = logging.getLogger("gateway.http")

SERVER_HEADER = "Strata"


def error_response(error: errors.S3Error, request_id: str, resource: str, head: bool = False) -> web.Response:
    """The S3 XML error response, with the headers every gateway response carries."""
    headers = {
        **error.headers,
        "x-amz-request-id": request_id,
        "x-amz-id-2": request_id,
        "Server": SERVER_HEADER,
    }
    if head:
        # HEAD responses carry no body; the status and headers say it all.
        return web.Response(status=error.status, headers=headers)
    body = errors.render(error, request_id, resource)
    return web.Response(status=error.status, body=body, content_type="application/xml", headers=headers)


def _client_error(exc: BaseException | None) -> errors.S3Error:
    if isinstance(exc, LineTooLong):
        return errors.RequestHeaderSectionTooLarge()
    return errors.BadRequest()


def _one_line(exc: BaseException | None, message: str | None) -> str:
    if isinstance(exc, HttpProcessingError):
        text = exc.message
    else:
        text = message or (str(exc) if exc else "")
    return " ".join(text.split())[:300]


class _S3RequestHandler(RequestHandler):
    def data_received(self, data: bytes) -> None:
        queued = len(self._messages)
        super().data_received(data)
        request = self._current_request
        if request is None or len(self._messages) == queued:
            return
        broken = any(isinstance(message, _ErrInfo) for message, _ in list(self._messages)[queued:])
        if broken and not request.content.is_eof():
            # aiohttp queues a framing error found mid-body behind the request reading that body,
            # which would wait for bytes that never come: fail its read instead.
            request.content.set_exception(errors.MalformedChunkedBody())
            request.content.feed_eof()  # and nothing of it is left to drain after the answer

    def handle_error(
        self,
        request: BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        if isinstance(exc, ConnectionError):
            # The client went away (e.g. mid-body): nobody to answer, nothing the server did wrong.
            log.debug("client %s disconnected: %s", request.remote, exc)
            raise ConnectionError("the client disconnected")
        if request.writer.output_size > 0:
            # Part of a response is out: the connection is broken (aiohttp's own behaviour).
            raise ConnectionError("Response is sent already, cannot send another response")
        request_id = new_request_id()
        error: errors.S3Error
        if status < 500:
            log.warning("malformed request from %s: %s (%d)", request.remote, _one_line(exc, message), status)
            error = _client_error(exc)
        else:
            log.error("error handling request from %s", request.remote, exc_info=exc)
            error = errors.ServiceUnavailable() if status in (503, 504) else errors.InternalError()
        try:
            resource = request.rel_url.path
        except Exception:  # the request line itself may be what failed to parse
            resource = "/"
        response = error_response(error, request_id, resource, head=request.method == "HEAD")
        response.force_close()
        return response


class _S3Server(web.Server):
    def __call__(self) -> RequestHandler:
        return _S3RequestHandler(self, loop=self._loop, **self._kwargs)


class S3AppRunner(web.AppRunner):
    """``web.AppRunner`` whose connections answer malformed HTTP with S3 XML errors."""

    async def _make_server(self) -> web.Server:
        server = await super()._make_server()
        return _S3Server(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            loop=server._loop,
            **server._kwargs,
        )
