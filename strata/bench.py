"""``strata bench``: PutObject/GetObject throughput and latency against any S3 endpoint.

Requests are signed with SigV4 (UNSIGNED-PAYLOAD, so the client's hashing does not
cap the figures) and sent by one asyncio loop with ``--concurrency`` in flight.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import statistics
import time
import uuid
from dataclasses import dataclass

import aiohttp

SIZE_UNITS = {"": 1, "B": 1, "KIB": 1024, "KB": 1000, "MIB": 1024**2, "MB": 1000**2, "GIB": 1024**3}


def parse_size(text: str) -> int:
    """``4KiB``, ``64MiB``, ``1GiB``, ``1000`` -> bytes."""
    match = re.fullmatch(r"\s*([0-9.]+)\s*([KMG]?I?B?)\s*", text.upper())
    if match is None:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    number, unit = match.groups()
    if unit in ("K", "M", "G"):
        unit += "IB"
    return int(float(number) * SIZE_UNITS[unit])


@dataclass
class Phase:
    name: str
    ops: int
    bytes: int
    seconds: float
    latencies: list[float]
    errors: int

    def line(self) -> str:
        lat = sorted(self.latencies) or [0.0]
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        return (
            f"{self.name:<4} {self.ops / self.seconds:10.1f} ops/s {self.bytes / self.seconds / 1e6:10.1f} MB/s"
            f"  p50 {statistics.median(lat) * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms"
            f"  ({self.ops} ops, {self.errors} errors, {self.seconds:.1f} s)"
        )


class Signer:
    def __init__(self, access_key: str, secret_key: str, region: str) -> None:
        from botocore.auth import S3SigV4Auth
        from botocore.credentials import Credentials

        self.auth = S3SigV4Auth(Credentials(access_key, secret_key), "s3", region)

    def headers(self, method: str, url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
        from botocore.awsrequest import AWSRequest
        from botocore.config import Config

        request = AWSRequest(method=method, url=url, headers=extra or {})
        # Sign "UNSIGNED-PAYLOAD" instead of hashing the body.
        request.context["client_config"] = Config(s3={"payload_signing_enabled": False})
        self.auth.add_auth(request)
        return dict(request.headers.items())


async def _run_phase(name: str, count: int, concurrency: int, job) -> Phase:  # type: ignore[no-untyped-def]
    latencies: list[float] = []
    moved = 0
    errors = 0
    next_index = 0

    async def worker() -> None:
        nonlocal moved, errors, next_index
        while next_index < count:
            index = next_index
            next_index += 1
            started = time.perf_counter()
            try:
                count_moved = await job(index)
                moved += count_moved
                latencies.append(time.perf_counter() - started)
            except (TimeoutError, aiohttp.ClientError, AssertionError):
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return Phase(name, len(latencies), moved, time.perf_counter() - started, latencies, errors)


async def run_bench(
    endpoint: str,
    size: int,
    count: int,
    concurrency: int,
    access_key: str,
    secret_key: str,
    bucket: str | None = None,
    location: str | None = None,
) -> list[Phase]:
    """``location``: the bench bucket's LocationConstraint (e.g. an external location)."""
    signer = Signer(access_key, secret_key, "us-east-1")
    bucket = bucket or f"bench-{uuid.uuid4().hex[:12]}"
    base = endpoint.rstrip("/")
    payload = os.urandom(size)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=600)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        url = f"{base}/{bucket}"
        body = b""
        if location:
            body = (
                '<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
                f"<LocationConstraint>{location}</LocationConstraint></CreateBucketConfiguration>"
            ).encode()
        headers = signer.headers("PUT", url, {"Content-Length": str(len(body))})
        async with session.put(url, data=body, headers=headers) as response:
            assert response.status == 200, await response.text()

        async def put(index: int) -> int:
            key_url = f"{url}/obj-{index:08d}"
            headers = signer.headers("PUT", key_url, {"Content-Length": str(size)})
            async with session.put(key_url, data=payload, headers=headers) as response:
                await response.read()
                assert response.status == 200
            return size

        async def get(index: int) -> int:
            key_url = f"{url}/obj-{index:08d}"
            received = 0
            async with session.get(key_url, headers=signer.headers("GET", key_url)) as response:
                assert response.status == 200
                async for piece in response.content.iter_chunked(1024 * 1024):
                    received += len(piece)
            assert received == size
            return received

        async def delete(index: int) -> int:
            key_url = f"{url}/obj-{index:08d}"
            async with session.delete(key_url, headers=signer.headers("DELETE", key_url)) as response:
                await response.read()
            return 0

        phases = [
            await _run_phase("PUT", count, concurrency, put),
            await _run_phase("GET", count, concurrency, get),
        ]
        await _run_phase("DEL", count, concurrency, delete)
        async with session.delete(url, headers=signer.headers("DELETE", url)) as response:
            await response.read()
    return phases


def _bench(args: argparse.Namespace) -> int:
    size = parse_size(args.size)
    phases = asyncio.run(
        run_bench(
            args.endpoint, size, args.count, args.concurrency, args.access_key, args.secret_key,
            location=args.location,
        )
    )  # fmt: skip
    where = f"  location {args.location}" if args.location else ""
    print(f"{args.endpoint}  size {args.size}  concurrency {args.concurrency}{where}")
    for phase in phases:
        print(phase.line())
    return 0 if all(phase.errors == 0 for phase in phases) else 1


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    bench = commands.add_parser("bench", help="PutObject/GetObject throughput and latency")
    bench.add_argument("--endpoint", default="http://127.0.0.1:8000", help="S3 endpoint URL")
    bench.add_argument("--size", default="4KiB", help="object size, e.g. 4KiB, 64MiB")
    bench.add_argument("--count", type=int, default=2000, help="objects per phase")
    bench.add_argument("--concurrency", type=int, default=32, help="requests in flight")
    bench.add_argument("--location", default=None, help="LocationConstraint of the bench bucket")
    bench.add_argument("--access-key", default="accessKey1", help="access key to sign with")
    bench.add_argument("--secret-key", default="verySecretKey1", help="secret key to sign with")
    bench.set_defaults(run=_bench)
