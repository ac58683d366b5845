#!/usr/bin/env python3
"""SSE-S3 beside no encryption: 16 MiB PUT/GET MB/s and 4 KiB PUT/GET ops/s.

    python scripts/bench_sse.py [--large 24] [--small 3000] [--rounds 3] [--backend mem]

Starts ``strata server`` on a free 127.0.0.1 port, then runs rounds alternating the two kinds
(plain then encrypted, encrypted then plain, ...) so that drift of a shared machine falls on both:
each round PUTs and GETs ``--large`` 16 MiB objects (4 at a time) and ``--small`` 4 KiB objects
(32 at a time), the encrypted ones with ``x-amz-server-side-encryption: AES256``. Prints each phase
and the medians with the encrypted/plain ratio. A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from strata.bench import Signer, _run_phase  # noqa: E402

ACCESS_KEY, SECRET_KEY = "accessKey1", "verySecretKey1"
LARGE, SMALL = 16 * 1024 * 1024, 4096
KINDS = ("plain", "sse")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def run(args: argparse.Namespace, url: str) -> int:
    signer = Signer(ACCESS_KEY, SECRET_KEY, "us-east-1")
    payloads = {LARGE: os.urandom(LARGE), SMALL: os.urandom(SMALL)}
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(
        connector=connector, timeout=aiohttp.ClientTimeout(total=600)
    ) as session:

        async def call(
            method: str, target: str, body: bytes = b"", extra: dict[str, str] | None = None
        ) -> int:
            headers = {**(extra or {}), **({"Content-Length": str(len(body))} if body else {})}
            signed = signer.headers(method, target, headers)
            async with session.request(method, target, data=body or None, headers=signed) as response:
                moved = 0
                async for piece in response.content.iter_chunked(1024 * 1024):
                    moved += len(piece)
                assert response.status == 200, response.status
                return moved

        for _ in range(200):
            try:
                await call("GET", f"{url}/")
                break
            except (aiohttp.ClientError, AssertionError):
                await asyncio.sleep(0.1)
        for kind in KINDS:
            await call("PUT", f"{url}/bench-{kind}")

        results: dict[tuple[str, str], list[float]] = {}
        for round_number in range(args.rounds):
            order = KINDS if round_number % 2 == 0 else KINDS[::-1]
            for kind in order:
                extra = {"x-amz-server-side-encryption": "AES256"} if kind == "sse" else {}
                for size, count, concurrency in ((LARGE, args.large, 4), (SMALL, args.small, 32)):
                    label = "16MiB" if size == LARGE else "4KiB"

                    async def put(
                        index: int, size: int = size, extra: dict[str, str] = extra, kind: str = kind
                    ) -> int:
                        await call("PUT", f"{url}/bench-{kind}/{size}-{index}", payloads[size], extra)
                        return size

                    async def get(index: int, size: int = size, kind: str = kind) -> int:
                        return await call("GET", f"{url}/bench-{kind}/{size}-{index}")

                    for name, job in (("PUT", put), ("GET", get)):
                        phase = await _run_phase(name, count, concurrency, job)
                        assert phase.errors == 0, f"{phase.errors} failed requests"
                        value = (
                            phase.bytes / phase.seconds / 1e6 if size == LARGE else phase.ops / phase.seconds
                        )
                        results.setdefault((f"{label} {name}", kind), []).append(value)
                        unit = "MB/s" if size == LARGE else "ops/s"
                        print(
                            f"round {round_number} {kind:<5} {label:>5} {name}: {value:8.1f} {unit}",
                            flush=True,
                        )
        print()
        for measure in ("16MiB PUT", "16MiB GET", "4KiB PUT", "4KiB GET"):
            plain = statistics.median(results[(measure, "plain")])
            sealed = statistics.median(results[(measure, "sse")])
            unit = "MB/s" if measure.startswith("16") else "ops/s"
            print(
                f"{measure:<10} plain {plain:8.1f} {unit}   SSE-S3 {sealed:8.1f} {unit}   {100 * sealed / plain:4.0f}%"
            )
    return 0


def main(args: argparse.Namespace) -> int:
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="strata-bench-sse-") as root:
        env = {
            **os.environ,
            "LOG_LEVEL": "error",
            "S3DATAPATH": f"{root}/data",
            "S3METADATAPATH": f"{root}/metadata",
            "MALLOC_MMAP_THRESHOLD_": "67108864",
            "MALLOC_TRIM_THRESHOLD_": "268435456",
        }
        command = [
            sys.executable,
            "-m",
            "strata.cli",
            "server",
            "--backend",
            args.backend,
            "--port",
            str(port),
        ]
        server = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
        try:
            return asyncio.run(run(args, f"http://127.0.0.1:{port}"))
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=24)
    parser.add_argument("--small", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backend", choices=("mem", "file"), default="mem")
    sys.exit(main(parser.parse_args()))
