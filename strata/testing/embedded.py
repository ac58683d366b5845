"""An embedded Strata server running in a background thread, for integration tests.

with EmbeddedThread(backend="mem") as server:
    s3 = server.boto3_client()  # or boto3.client("s3", endpoint_url=server.url, ...)

It offers ``strata.testing.running.RunningStrata`` (``endpoint_url`` is ``url``).
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping
from concurrent.futures import Future
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from gateway.limits import GatewayOptions
from strata.settings import ServerSettings, embedded_default_locations
from strata.testing.running import Credentials, RunningStrataBase

if TYPE_CHECKING:
    from strata.embedded import EmbeddedServer


class EmbeddedThread(RunningStrataBase):
    def __init__(
        self,
        backend: str = "mem",
        root: Path | None = None,
        gc_interval_s: float = 3600.0,
        intent_ttl_s: float = 3600.0,
        gc_grace_s: float = 300.0,
        locations: Mapping[str, Mapping[str, Any]] | None = None,
        lifecycle_interval_s: float = 60.0,
        lifecycle_day_s: float = 86400.0,
        gateway: GatewayOptions | None = None,
    ) -> None:
        """``locations``: a locationConfig document (default: the embedded defaults of ``backend``)."""
        if backend == "file" and root is None:
            raise ValueError("the file backend needs a root directory")
        self.settings = ServerSettings(
            backend=backend,
            host="127.0.0.1",
            port=0,
            data_path=str(root / "data") if root else "",
            metadata_path=str(root / "metadata") if root else "",
            locations=dict(locations) if locations is not None else embedded_default_locations(backend),
            gc_interval_s=gc_interval_s,
            intent_ttl_s=intent_ttl_s,
            gc_grace_s=gc_grace_s,
            lifecycle_interval_s=lifecycle_interval_s,
            lifecycle_day_s=lifecycle_day_s,
            gateway=gateway or GatewayOptions(),
        )
        self.port = 0
        self.server: EmbeddedServer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        scheme = "https" if self.settings.certificates else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def endpoint_url(self) -> str:
        return self.url

    @property
    def credentials(self) -> Credentials:
        """The server reads its accounts from this process's environment, as ``strata server`` does."""
        return Credentials.from_environment(os.environ)

    def start(self) -> Self:
        started: Future[int] = Future()
        self._thread = threading.Thread(
            target=self._run, args=(started,), daemon=True, name="strata-embedded"
        )
        self._thread.start()
        self.port = started.result(timeout=30)
        return self

    def _run(self, started: Future[int]) -> None:
        try:
            from strata.embedded import running_embedded
        except BaseException as error:
            started.set_exception(error)
            raise

        async def main() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            try:
                async with running_embedded(self.settings) as (server, port):
                    self.server = server
                    started.set_result(port)
                    await self._stop.wait()
            except BaseException as error:
                if not started.done():
                    started.set_exception(error)
                raise

        asyncio.run(main())

    def call(self, coroutine):  # type: ignore[no-untyped-def]
        """Runs a coroutine on the server's loop (e.g. ``server.server.core.run_gc(...)``)."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=60)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
