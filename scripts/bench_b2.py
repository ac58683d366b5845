#!/usr/bin/env python3
"""64 MiB PUT/GET through the b2 backend beside b2sdk straight to the same B2 simulator server.

Both clients talk HTTP to one ``B2SimulatorEmulator`` on 127.0.0.1, run in a child process so it
does not share the clients' interpreter lock; its cost (it keeps objects in memory and checks every
sha1) is in both columns, and the ratio is the adapter's overhead against b2sdk's.
    .venv/bin/python scripts/bench_b2.py [size_mib] [rounds]
"""

from __future__ import annotations

import asyncio
import io
import json
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from typing import Any

from b2sdk import v2 as b2

from datanode.backends.remote import ObjectMeta, create_remote
from strata.testing.emulators.b2_simulator import B2SimulatorEmulator

MIB = 1024 * 1024


async def pieces(data: bytes) -> AsyncIterator[bytes]:
    view = memoryview(data)
    for start in range(0, len(data), MIB):
        yield bytes(view[start : start + MIB])


async def through_backend(location: dict[str, Any], data: bytes, rounds: int) -> tuple[float, float]:
    backend = create_remote("bench", location)
    put_s = get_s = 0.0
    try:
        await backend.health()
        for round_number in range(rounds):
            started = time.perf_counter()
            obj = await backend.put(f"bench-{round_number}", pieces(data), ObjectMeta(size=len(data)))
            put_s += time.perf_counter() - started
            started = time.perf_counter()
            got = 0
            async for piece in backend.get(obj):
                got += len(piece)
            get_s += time.perf_counter() - started
            assert got == len(data)
            await backend.delete(obj)
    finally:
        await backend.close()
    return put_s, get_s


def through_b2sdk(location: dict[str, Any], data: bytes, rounds: int) -> tuple[float, float]:
    details = location["details"]
    api = b2.B2Api(b2.InMemoryAccountInfo())
    api.authorize_account(details["b2StorageEndpoint"], details["b2AccountId"], details["b2ApplicationKey"])
    bucket = api.get_bucket_by_name(details["b2BucketName"])
    put_s = get_s = 0.0
    for round_number in range(rounds):
        started = time.perf_counter()
        version = bucket.upload_bytes(data, f"sdk-{round_number}")
        put_s += time.perf_counter() - started
        started = time.perf_counter()
        sink = io.BytesIO()
        bucket.download_file_by_id(version.id_).save(sink)
        get_s += time.perf_counter() - started
        assert len(sink.getvalue()) == len(data)
        bucket.delete_file_version(version.id_, version.file_name)
    return put_s, get_s


def serve() -> None:
    """The child: one emulator with two fresh buckets, until the parent closes stdin."""
    emulator = B2SimulatorEmulator()
    emulator.start()
    print(json.dumps([emulator.location(bucket_match=True) for _ in range(2)]), flush=True)
    sys.stdin.read()
    emulator.close()


def main() -> None:
    if sys.argv[1:] == ["--serve"]:
        serve()
        return
    size_mib = int(sys.argv[1]) if len(sys.argv) > 1 else 64
    rounds = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    data = bytes(range(256)) * (size_mib * MIB // 256)
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None
        backend_location, sdk_location = json.loads(server.stdout.readline())
        total_mb = size_mib * MIB * rounds / 1e6
        backend_put, backend_get = asyncio.run(through_backend(backend_location, data, rounds))
        sdk_put, sdk_get = through_b2sdk(sdk_location, data, rounds)
        print(f"{size_mib} MiB x {rounds}: MB/s     PUT     GET")
        print(f"  b2 backend (aiohttp)   {total_mb / backend_put:7.0f} {total_mb / backend_get:7.0f}")
        print(f"  b2sdk straight         {total_mb / sdk_put:7.0f} {total_mb / sdk_get:7.0f}")
        print(f"  ratio backend/b2sdk    {sdk_put / backend_put:7.2f} {sdk_get / backend_get:7.2f}")
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=30)


if __name__ == "__main__":
    main()
