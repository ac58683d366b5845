"""One scrub pass over a backend: every blob re-verified at a bounded read rate, progress as it goes."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncGenerator, Awaitable, Callable

from datanode.backend import Backend
from protos.common_pb2 import ErrorReason
from protos.data_pb2 import ScrubProgress
from protos.errors import StrataError

REPORT_INTERVAL_S = 0.5


class Pacer:
    """Holds a reader to ``rate_bytes_per_s`` on average (None: no bound), by waiting after each read."""

    def __init__(
        self,
        rate_bytes_per_s: float | None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._rate = rate_bytes_per_s
        self._clock = clock
        self._sleep = sleep
        self._started = clock()
        self._consumed = 0

    async def __call__(self, read_bytes: int) -> None:
        if not self._rate:
            return
        self._consumed += read_bytes
        delay = self._started + self._consumed / self._rate - self._clock()
        if delay > 0:
            await self._sleep(delay)


def rate_from_mb_per_s(rate_mb_per_s: float) -> float | None:
    """Bytes per second for a ScrubRequest's rate (0: unbounded); rejects negative or not-a-number rates."""
    if math.isnan(rate_mb_per_s) or rate_mb_per_s < 0:
        raise StrataError(ErrorReason.INVALID_ARGUMENT, f"scrub rate must be >= 0 MB/s, not {rate_mb_per_s}")
    return rate_mb_per_s * 1_000_000 if rate_mb_per_s > 0 else None


async def scrub_pass(
    backend: Backend,
    rate_bytes_per_s: float | None,
    report_interval_s: float = REPORT_INTERVAL_S,
    *,
    unhealed_only: bool = False,
) -> AsyncGenerator[ScrubProgress, None]:
    """Progress of one pass: first the blobs still waiting to be healed from an earlier quarantine,
    then running counts (at least every ``report_interval_s``, and at once for each corrupt blob),
    and last a message with ``done`` set. ``unhealed_only``: the first message is the last."""
    waiting = await backend.unhealed_quarantined()
    if unhealed_only:
        yield ScrubProgress(corrupt_blob_ids=waiting, done=True)
        return
    blob_ids = [blob_id async for blob_id in backend.list_blobs()]
    yield ScrubProgress(blobs_total=len(blob_ids), corrupt_blob_ids=waiting)
    pace = Pacer(rate_bytes_per_s)
    blobs_checked = bytes_checked = 0
    reported = time.monotonic()
    for blob_id in blob_ids:
        check = await backend.verify(blob_id, pace)
        blobs_checked += 1
        bytes_checked += check.bytes_checked
        now = time.monotonic()
        if check.corrupt or now - reported >= report_interval_s:
            reported = now
            yield ScrubProgress(
                blobs_total=len(blob_ids),
                blobs_checked=blobs_checked,
                bytes_checked=bytes_checked,
                corrupt_blob_ids=[blob_id] if check.corrupt else [],
            )
    yield ScrubProgress(
        blobs_total=len(blob_ids), blobs_checked=blobs_checked, bytes_checked=bytes_checked, done=True
    )
