"""A background task that runs one pass of some work every few seconds until it is stopped."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable


class PeriodicTask:
    """Runs ``run_pass`` every ``interval_s()`` seconds; a failed pass is logged and the next one still runs."""

    def __init__(
        self,
        name: str,
        run_pass: Callable[[], Awaitable[object]],
        interval_s: Callable[[], float],
        log: logging.Logger,
    ) -> None:
        self._name = name
        self._run_pass = run_pass
        self._interval_s = interval_s
        self._log = log
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name=self._name)

    async def _loop(self) -> None:
        while True:
            try:
                await self._run_pass()
            except Exception:
                self._log.exception("%s pass failed", self._name)
            await asyncio.sleep(self._interval_s())

    async def stop(self) -> None:
        if self._task is None:
            return
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None
