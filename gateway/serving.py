"""Serving the S3 app on a socket, with the limits that protect a gateway from slow and endless clients.

* a header timeout: a connection that has not sent a whole request head this long after it opened
  (or after its previous response) is closed;
* a body idle timeout: a request whose body stops arriving while the handler waits for it ends with
  ``RequestTimeout`` (see :class:`gateway.limits.BodyIdleWatchdog`);
* a cap on concurrent connections: the ones over it are answered ``503 SlowDown`` and closed;
* the largest single PUT, also for ``Transfer-Encoding: chunked`` bodies of unknown length.

:func:`start_gateway` is the one call the composition roots (embedded server, cluster gateway) make.
"""

from __future__ import annotations

import asyncio
import dataclasses
from ssl import SSLContext
from typing import Any

from aiohttp import web

from gateway.app import build_app
from gateway.context import GatewayServices
from gateway.limits import GATEWAY_OPTIONS, GatewayOptions
from gateway.runner import S3AppRunner
from gateway.s3 import errors
from gateway.s3.regions import served_regions
from gateway.website.endpoints import WEBSITE_PORTS, WebsitePorts
from strata.runtime.errors import listen_error
from strata.runtime.log import new_request_id


async def start_gateway(
    services: GatewayServices,
    options: GatewayOptions,
    host: str,
    port: int,
    ssl_context: SSLContext | None = None,
    **runner_options: Any,
) -> web.AppRunner:
    """Builds the S3 app for ``services`` and serves it; the caller cleans the returned runner up."""
    locations = services.locations
    extra = options.extra_regions
    services.authenticator.serve_regions(lambda: served_regions(locations(), extra))
    services = dataclasses.replace(services, max_put_size=options.max_put_size)
    app = build_app(services)
    app[GATEWAY_OPTIONS] = options
    website_ports = app[WEBSITE_PORTS] = WebsitePorts()
    # aiohttp closes a connection whose request head is not complete when its keep-alive timer fires;
    # that timer runs from the connection's start and from each response's end.
    # Request bodies are never decompressed: an object uploaded with Content-Encoding: gzip is stored
    # as the bytes sent (aiohttp would inflate it).
    runner = S3AppRunner(
        app, keepalive_timeout=options.header_timeout_s, auto_decompress=False, **runner_options
    )
    await runner.setup()
    try:
        site = LimitedTCPSite(
            runner,
            host,
            port,
            max_connections=options.max_connections,
            handshake_timeout_s=options.header_timeout_s,
            ssl_context=ssl_context,
        )
        await site.start()
        if options.website_port is not None:
            # Website endpoints are plain HTTP, as S3's are.
            website_site = LimitedTCPSite(
                runner,
                host,
                options.website_port,
                max_connections=options.max_connections,
                handshake_timeout_s=options.header_timeout_s,
            )
            try:
                await website_site.start()
            except OSError as error:
                raise listen_error(host, options.website_port, error) from None  # names the website port
            if website_site.bound_port is not None:
                website_ports.ports.add(website_site.bound_port)
    except BaseException:
        await runner.cleanup()
        raise
    return runner


class LimitedTCPSite(web.TCPSite):
    """A TCPSite that refuses connections over ``max_connections`` with 503 SlowDown."""

    def __init__(
        self,
        runner: web.BaseRunner,
        host: str,
        port: int,
        *,
        max_connections: int,
        handshake_timeout_s: float = 60.0,
        **kwargs: Any,
    ):
        super().__init__(runner, host, port, reuse_address=True, **kwargs)
        self._max_connections = max_connections
        self._handshake_timeout_s = handshake_timeout_s

    async def start(self) -> None:
        await web.BaseSite.start(self)
        server = self._runner.server
        assert server is not None
        loop = asyncio.get_running_loop()
        limit = self._max_connections
        live: set[_Counted] = set()
        pending: set[_Counted] = set()  # created, not yet connected (accepting, TLS handshake)

        def protocol() -> asyncio.Protocol:
            if len(live) + len(pending) >= limit:
                return _Refused()
            counted = _Counted(server(), live, pending)
            pending.add(counted)
            # A connection that never completes (a failed TLS handshake) must not hold its slot forever.
            loop.call_later(self._handshake_timeout_s, pending.discard, counted)
            return counted

        self._server = await loop.create_server(
            protocol,
            self._host,
            self._port,
            ssl=self._ssl_context,
            ssl_handshake_timeout=self._handshake_timeout_s if self._ssl_context else None,
            backlog=self._backlog,
            reuse_address=True,
        )
        self._bound_port = self._server.sockets[0].getsockname()[1] if self._server.sockets else self._port

    @property
    def bound_port(self) -> int | None:
        return self._bound_port


class _Counted(asyncio.Protocol):
    """Delegates to aiohttp's request handler and keeps the live-connection count."""

    __slots__ = ("_inner", "_live", "_pending")

    def __init__(self, inner: asyncio.Protocol, live: set[_Counted], pending: set[_Counted]) -> None:
        self._inner, self._live, self._pending = inner, live, pending

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._pending.discard(self)
        self._live.add(self)
        self._inner.connection_made(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._live.discard(self)
        self._inner.connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received()

    def pause_writing(self) -> None:
        self._inner.pause_writing()

    def resume_writing(self) -> None:
        self._inner.resume_writing()


_REFUSED_LINGER_S = 1.0


def _slow_down_response() -> bytes:
    request_id = new_request_id()
    body = errors.render(errors.SlowDown(), request_id, "/")
    head = (
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/xml\r\nConnection: close\r\n"
        f"Server: Strata\r\nx-amz-request-id: {request_id}\r\nContent-Length: {len(body)}\r\n\r\n"
    )
    return head.encode("ascii") + body


class _Refused(asyncio.Protocol):
    """Answers 503 SlowDown, discards what the client sends for a moment (so it reads the answer), closes."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        transport.write(_slow_down_response())
        asyncio.get_running_loop().call_later(_REFUSED_LINGER_S, transport.close)

    def data_received(self, data: bytes) -> None:
        pass
