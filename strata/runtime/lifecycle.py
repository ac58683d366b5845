"""Process lifecycle: run an async main until SIGTERM/SIGINT, then shut down gracefully."""

from __future__ import annotations

import asyncio
import signal

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
