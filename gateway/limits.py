"""The gateway's limits on clients (see :mod:`gateway.serving`) and the body idle watchdog the app runs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import StreamReader, web

from gateway.s3 import errors

MAX_PUT_SIZE = 5 * 1024**3


@dataclass(frozen=True)
class GatewayOptions:
    header_timeout_s: float = 60.0  # seconds a connection may take to send a request head
    body_idle_timeout_s: float = 60.0  # seconds a request body may stall while the server waits for it
    max_connections: int = 1024  # concurrent client connections per gateway; more get 503 SlowDown
    max_put_size: int = MAX_PUT_SIZE  # largest single PUT (and chunked upload) in bytes
    extra_regions: tuple[str, ...] = ()  # regions a SigV4 scope may name besides us-east-1 and the locations'
    website_port: int | None = (
        None  # a port whose every request is a static website request (gateway.website)
    )
    # encryption at rest: the key directory of the file KMS ("": the embedded server's default)
    kms_dir: str = ""


GATEWAY_OPTIONS = web.AppKey("gateway_options", GatewayOptions)


class BodyIdleWatchdog:
    """Fails the body stream with RequestTimeout once the reader has waited ``idle_s`` for a byte.

    Time the handler spends elsewhere (writing to a slow backend) does not count: only a reader
    blocked on the network with nothing arriving is idle.
    """

    def __init__(self, content: StreamReader, idle_s: float) -> None:
        self._content = content
        self._idle_s = idle_s
        self._loop = asyncio.get_running_loop()
        self._seen = content.total_bytes
        self._since = self._loop.time()
        self._handle: asyncio.TimerHandle | None = self._loop.call_later(self._tick_s, self._check)
        self.fired = False

    @property
    def _tick_s(self) -> float:
        return max(self._idle_s / 4, 0.05)

    def _check(self) -> None:
        self._handle = None
        content = self._content
        if content.is_eof() or content.exception() is not None:
            return
        now = self._loop.time()
        waiting = getattr(content, "_waiter", None) is not None
        if content.total_bytes != self._seen or not waiting:
            self._seen, self._since = content.total_bytes, now
        elif now - self._since >= self._idle_s:
            self.fired = True
            content.set_exception(errors.RequestTimeout())
            return
        self._handle = self._loop.call_later(self._tick_s, self._check)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None
