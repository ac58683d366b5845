"""Process lifecycle: run an async main until SIGTERM/SIGINT, then shut down gracefully."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Awaitable, Callable

GRACE_SECONDS = 10.0


async def wait_for_stop_signal() -> None:
    """Returns when the process receives SIGTERM or SIGINT."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        await stop.wait()
    finally:
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(signum)


def run_service(main: Callable[[], Awaitable[None]]) -> None:
    """Runs ``main`` in a fresh event loop; ``main`` owns its own shutdown."""
    asyncio.run(main())
