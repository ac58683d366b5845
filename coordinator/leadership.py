"""The coordinator's life: campaign for ``coordinator/leader``, run the workers while leading.

Any number of coordinators may run; the one holding the election key is active and the
others wait in ``campaign()``. When the active one dies its lease expires and a standby's
campaign succeeds; when it loses its lease (etcd unreachable for longer than the TTL) it stops
its workers, resigns what is left, and campaigns again like any standby.

A worker is anything with ``start()`` and ``async stop()`` (a ``PeriodicTask`` owner, say): add
one to the list the role builds and it runs on the active coordinator only.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from coordinator.election import LeaderElection
from protos.errors import StrataError

log = logging.getLogger(__name__)

RETRY_S = 1.0


class Worker(Protocol):
    def start(self) -> None: ...

    async def stop(self) -> None: ...


async def _first(*awaitables: Awaitable[object]) -> asyncio.Task[object]:
    """Waits until one finishes; cancels the others; returns the finished task."""
    tasks = [asyncio.ensure_future(awaitable) for awaitable in awaitables]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            if not task.done():
                task.cancel()
        for task in tasks:
            if not task.done():
                with contextlib.suppress(asyncio.CancelledError, StrataError):
                    await task
    return next(task for task in tasks if task in done)


async def lead_while_elected(
    election: LeaderElection,
    workers: Sequence[Worker],
    stopping: asyncio.Event,
    on_change: Callable[[bool], Awaitable[None]] | None = None,
) -> None:
    """Campaigns, runs ``workers`` while leading, and repeats until ``stopping`` is set; then
    stops the workers and resigns. ``on_change(leading)`` runs after each change of role."""
    try:
        while not stopping.is_set():
            finished = await _first(election.campaign(), stopping.wait())
            if stopping.is_set():
                break
            error = finished.exception()
            if error is not None:
                log.warning("campaign for %s failed, trying again: %s", election.key, error)
                await _first(asyncio.sleep(RETRY_S), stopping.wait())
                continue
            log.info("leading %s (term %s)", election.key, finished.result())
            for worker in workers:
                worker.start()
            try:
                if on_change is not None:
                    await _notify(on_change, True)
                await _first(election.lost.wait(), stopping.wait())
            finally:
                for worker in reversed(workers):
                    await worker.stop()
            if not stopping.is_set():
                log.warning("no longer leading %s; standing by", election.key)
                await _resign(election)
                if on_change is not None:
                    await _notify(on_change, False)
    finally:
        await _resign(election)


async def _notify(on_change: Callable[[bool], Awaitable[None]], leading: bool) -> None:
    try:
        await on_change(leading)
    except StrataError as error:
        log.warning("could not publish the coordinator's role: %s", error.message)


async def _resign(election: LeaderElection) -> None:
    """Gives up the key and the lease; an unreachable etcd lets them expire instead."""
    try:
        await election.resign()
    except StrataError as error:
        log.warning("could not resign %s (the lease will expire): %s", election.key, error.message)
