#!/usr/bin/env python3
"""4 KiB GETs on a bucket without a policy against one with a 20-statement policy with conditions.

    python scripts/bench_policy_get.py [--objects 4000] [--rounds 8] [--concurrency 32]

Starts ``strata server --backend mem`` on a free 127.0.0.1 port, writes the objects into two
buckets, gives one of them the policy (every statement names the requests' action and resource, so
each is checked: IP, user agent, date, transport, referer and max-keys conditions), then runs GET
rounds alternating the buckets (A B, B A, ...) so that drift of a shared machine falls on both.
Prints each round, the median ops/s of each bucket, the median of the paired ratios, and the
server's CPU time per GET (from /proc). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

import aiohttp

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from strata.bench import Signer, _run_phase  # noqa: E402

ACCESS_KEY, SECRET_KEY = "accessKey1", "verySecretKey1"
SIZE = 4096


def policy(bucket: str) -> dict[str, Any]:
    statements: list[dict[str, Any]] = []
    for index in range(20):
        base = {"Sid": f"s{index}", "Resource": f"arn:aws:s3:::{bucket}/*"}
        kind = index % 5
        if kind == 0:
            network = [f"10.{index}.0.0/16", "192.0.2.0/24"]
            condition: dict[str, Any] = {"IpAddress": {"aws:SourceIp": network}}
            statements.append(
                {**base, "Effect": "Deny", "Principal": "*", "Action": "s3:GetObject", "Condition": condition}
            )
        elif kind == 1:
            condition = {"StringLike": {"aws:UserAgent": f"*tool-{index}*"}}
            principal = {"AWS": "arn:aws:iam::123456789013:root"}
            statements.append(
                {
                    **base,
                    "Effect": "Allow",
                    "Principal": principal,
                    "Action": ["s3:GetObject", "s3:GetObjectVersion"],
                    "Condition": condition,
                }
            )
        elif kind == 2:
            condition = {"DateGreaterThan": {"aws:CurrentTime": "2099-01-01T00:00:00Z"}}
            statements.append(
                {**base, "Effect": "Deny", "Principal": "*", "Action": "s3:*Object", "Condition": condition}
            )
        elif kind == 3:
            condition = {"Bool": {"aws:SecureTransport": "true"}}
            statements.append(
                {
                    **base,
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": "s3:GetObject",
                    "Condition": condition,
                }
            )
        else:
            condition = {
                "StringEquals": {"aws:Referer": f"http://bad-{index}.example/"},
                "NumericGreaterThan": {"s3:max-keys": "10"},
            }
            statements.append(
                {
                    **base,
                    "Effect": "Deny",
                    "Principal": {"AWS": "*"},
                    "Action": "s3:GetObject",
                    "Condition": condition,
                }
            )
    return {"Version": "2012-10-17", "Statement": statements}  # fmt: skip


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def run(args: argparse.Namespace, server: subprocess.Popen[bytes], url: str) -> int:
    signer = Signer(ACCESS_KEY, SECRET_KEY, "us-east-1")
    payload = os.urandom(SIZE)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=args.concurrency)) as session:

        async def call(method: str, target: str, body: bytes = b"", status: int = 200) -> bytes:
            headers = signer.headers(method, target, {"Content-Length": str(len(body))} if body else None)
            async with session.request(method, target, data=body or None, headers=headers) as response:
                answer = await response.read()
                assert response.status in (status, 204), (response.status, answer[:300])
                return answer

        for _ in range(200):
            try:
                await call("GET", f"{url}/")
                break
            except (aiohttp.ClientError, AssertionError):
                await asyncio.sleep(0.1)
        for bucket in ("nopolicy", "policy"):
            await call("PUT", f"{url}/{bucket}")

            async def put(index: int, bucket: str = bucket) -> int:
                await call("PUT", f"{url}/{bucket}/object-{index:08d}", payload)
                return SIZE

            await _run_phase("PUT", args.objects, args.concurrency, put)
        document = json.dumps(policy("policy")).encode()
        await call("PUT", f"{url}/policy?policy", document, status=204)

        rates: dict[str, list[float]] = {"nopolicy": [], "policy": []}
        cpu: dict[str, list[float]] = {"nopolicy": [], "policy": []}
        for round_number in range(args.rounds):
            order = ("nopolicy", "policy") if round_number % 2 == 0 else ("policy", "nopolicy")
            for bucket in order:

                async def get(index: int, bucket: str = bucket) -> int:
                    return len(await call("GET", f"{url}/{bucket}/object-{index:08d}"))

                before = cpu_seconds(server.pid)
                phase = await _run_phase("GET", args.objects, args.concurrency, get)
                cpu[bucket].append((cpu_seconds(server.pid) - before) / args.objects * 1e6)
                rates[bucket].append(phase.ops / phase.seconds)
                print(
                    f"round {round_number} {bucket:<9} {phase.line()}  server CPU {cpu[bucket][-1]:.0f} us/GET",
                    flush=True,
                )
        ratios = [
            with_policy / without
            for with_policy, without in zip(rates["policy"], rates["nopolicy"], strict=True)
        ]
        print(
            f"median GET ops/s: no policy {statistics.median(rates['nopolicy']):.0f}, "
            f"20-statement policy {statistics.median(rates['policy']):.0f}; "
            f"median paired ratio {100 * statistics.median(ratios):.0f}%"
        )
        print(
            f"median server CPU per GET: no policy {statistics.median(cpu['nopolicy']):.0f} us, "
            f"policy {statistics.median(cpu['policy']):.0f} us"
        )
    return 0


def main(args: argparse.Namespace) -> int:
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "strata.cli", "server", "--backend", "mem", "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "LOG_LEVEL": "error"},
    )
    try:
        return asyncio.run(run(args, server, f"http://127.0.0.1:{port}"))
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=32)
    sys.exit(main(parser.parse_args()))
