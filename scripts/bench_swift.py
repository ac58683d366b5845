#!/usr/bin/env python3
"""64 MiB PUT/GET throughput of the swift backend beside python-swiftclient on the same Swift proxy.

    .venv/bin/python scripts/bench_swift.py [--size-mib 64] [--rounds 3]

Starts the test Swift (strata/testing/emulators/swift.py), then for each round writes and
reads one object through ``SwiftBackend`` (sized: one PUT; unsized: a one-segment SLO)
and through swiftclient, and prints the best MB/s of each.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import time
from collections.abc import AsyncIterator, Callable

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from swiftclient import client as swiftclient  # noqa: E402

from datanode.backends.remote import ObjectMeta, RemoteObject  # noqa: E402
from datanode.backends.swift import SwiftBackend  # noqa: E402
from strata.testing.emulators.swift import SwiftEmulator  # noqa: E402

MIB = 1024 * 1024


async def pieces(data: bytes) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), MIB):
        yield bytes(view[start : start + MIB])


def rate(size: int, seconds: float) -> float:
    return size / seconds / 1e6


async def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    result = action()
    if asyncio.iscoroutine(result):
        await result
    return time.perf_counter() - started


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    size = arguments.size_mib * MIB
    data = os.urandom(size)
    emulator = SwiftEmulator()
    emulator.start()
    try:
        location = emulator.location(bucket_match=True)
        container = location["details"]["swiftContainerName"]
        backend = SwiftBackend("bench", location)
        assert emulator.server is not None
        storage_url, token = emulator.server.authenticate()
        best: dict[str, float] = {}

        def record(label: str, seconds: float) -> None:
            best[label] = max(best.get(label, 0.0), rate(size, seconds))

        for _ in range(arguments.rounds):
            for label, declared in (("sized", size), ("unsized", -1)):
                written: list[RemoteObject] = []

                async def put(declared: int = declared, written: list[RemoteObject] = written) -> None:
                    written.append(await backend.put("bench", pieces(data), ObjectMeta(size=declared)))

                record(f"strata swift backend PUT ({label})", await timed(put))

                async def get(written: list[RemoteObject] = written) -> None:
                    received = 0
                    async for piece in backend.get(written[0]):
                        received += len(piece)
                    assert received == size

                record(f"strata swift backend GET ({label})", await timed(get))
                await backend.delete(written[0])

            def client_put() -> None:
                swiftclient.put_object(
                    storage_url,
                    token,
                    container,
                    "direct",
                    io.BytesIO(data),
                    content_length=size,
                    chunk_size=MIB,
                )

            def client_get() -> None:
                _, body = swiftclient.get_object(storage_url, token, container, "direct", resp_chunk_size=MIB)
                assert sum(len(piece) for piece in body) == size

            record("python-swiftclient PUT", await timed(lambda: asyncio.to_thread(client_put)))
            record("python-swiftclient GET", await timed(lambda: asyncio.to_thread(client_get)))
        await backend.close()
        for label, mb_per_s in best.items():
            print(f"{label:40s} {mb_per_s:8.1f} MB/s")
    finally:
        emulator.close()


if __name__ == "__main__":
    asyncio.run(main())
