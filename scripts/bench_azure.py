#!/usr/bin/env python
"""Azure location throughput: PUT and GET of one SIZE object through Strata's azure backend, and the
same with the Azure SDK's own aio client straight to the server (a fresh Azurite unless --endpoint),
plus the peak Python heap of one size-unknown put (it must stay a few blocks, whatever the size).

    python scripts/bench_azure.py [--size-mib 64] [--rounds 3]
"""

from __future__ import annotations

import argparse
import asyncio
import time
import tracemalloc
from collections.abc import AsyncIterator
from typing import Any

from azure.core.credentials import AzureNamedKeyCredential
from azure.storage.blob.aio import ContainerClient

from datanode.backends.remote import ObjectMeta, create_remote
from strata.testing.emulators.azurite import AzuriteEmulator

MIB = 1024 * 1024


async def pieces(data: bytes) -> AsyncIterator[bytes]:
    for start in range(0, len(data), MIB):
        yield data[start : start + MIB]


async def through_strata(location: dict[str, Any], data: bytes, rounds: int) -> tuple[float, float]:
    backend = create_remote("bench", location)
    put_s = get_s = 0.0
    try:
        for round_index in range(rounds):
            started = time.perf_counter()
            obj = await backend.put(f"strata-{round_index}", pieces(data), ObjectMeta(size=len(data)))
            put_s += time.perf_counter() - started
            started = time.perf_counter()
            received = 0
            async for piece in backend.get(obj):
                received += len(piece)
            get_s += time.perf_counter() - started
            assert received == len(data)
    finally:
        await backend.close()
    return put_s, get_s


async def through_sdk(location: dict[str, Any], data: bytes, rounds: int) -> tuple[float, float]:
    details = location["details"]
    container = ContainerClient(
        details["azureStorageEndpoint"],
        details["azureContainerName"],
        credential=AzureNamedKeyCredential(
            details["azureStorageAccountName"], details["azureStorageAccessKey"]
        ),
    )
    put_s = get_s = 0.0
    try:
        for round_index in range(rounds):
            blob = container.get_blob_client(f"sdk-{round_index}")
            started = time.perf_counter()
            await blob.upload_blob(data, overwrite=True, max_concurrency=2)
            put_s += time.perf_counter() - started
            started = time.perf_counter()
            downloader = await blob.download_blob(max_concurrency=2)
            received = len(await downloader.readall())
            get_s += time.perf_counter() - started
            assert received == len(data)
    finally:
        await container.close()
    return put_s, get_s


async def peak_heap_of_unsized_put(location: dict[str, Any], size: int) -> int:
    backend = create_remote("bench", location)

    async def generated() -> AsyncIterator[bytes]:
        piece = b"x" * MIB
        for _ in range(size // MIB):
            yield piece

    try:
        tracemalloc.start()
        await backend.put("unsized", generated(), ObjectMeta(size=-1))
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    finally:
        await backend.close()
    return peak


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--unsized-mib", type=int, default=512)
    args = parser.parse_args()
    data = bytes(range(256)) * (args.size_mib * MIB // 256)
    emulator = AzuriteEmulator()
    emulator.start()
    try:
        location = emulator.location(bucket_match=True)
        total_mb = len(data) * args.rounds / 1e6
        for label, run in (("strata azure backend", through_strata), ("azure SDK direct", through_sdk)):
            put_s, get_s = asyncio.run(run(location, data, args.rounds))
            print(f"{label:22s} PUT {total_mb / put_s:7.1f} MB/s   GET {total_mb / get_s:7.1f} MB/s")
        peak = asyncio.run(peak_heap_of_unsized_put(location, args.unsized_mib * MIB))
        print(f"size-unknown put of {args.unsized_mib} MiB: peak Python heap {peak / MIB:.1f} MiB")
    finally:
        emulator.close()


if __name__ == "__main__":
    main()
