#!/usr/bin/env python
"""Multipart throughput: upload and download OBJECTS objects of SIZE in PART-sized parts, CONCURRENCY parts
in flight, against a running endpoint (default: a fresh `strata server --backend file` in a temp dir).

    python scripts/bench_multipart.py [--endpoint URL] [--size-mib 64] [--part-mib 8] [--concurrency 4] [--objects 8]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config

MIB = 1024 * 1024


def client(endpoint: str, concurrency: int):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="accessKey1",
        aws_secret_access_key="verySecretKey1",
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path", "payload_signing_enabled": False},
            max_pool_connections=concurrency * 2,
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


def start_server(workdir: Path) -> tuple[subprocess.Popen[bytes], str]:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3", "SCALITY_"))}
    proc = subprocess.Popen(
        [sys.executable, "-m", "strata.cli", "server", "--port", str(port), "--host", "127.0.0.1"],
        cwd=workdir,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    import urllib.request

    for _ in range(150):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/_/healthcheck", timeout=1)
            return proc, f"http://127.0.0.1:{port}"
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--endpoint")
    parser.add_argument("--size-mib", type=int, default=64)
    parser.add_argument("--part-mib", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--objects", type=int, default=8)
    args = parser.parse_args()
    proc = None
    workdir = tempfile.TemporaryDirectory()
    endpoint = args.endpoint
    if endpoint is None:
        proc, endpoint = start_server(Path(workdir.name))
    try:
        s3 = client(endpoint, args.concurrency)
        bucket = f"bench-mpu-{os.getpid()}"
        s3.create_bucket(Bucket=bucket)
        part_size = args.part_mib * MIB
        size = args.size_mib * MIB
        part_count = -(-size // part_size)
        body = os.urandom(part_size)
        pool = ThreadPoolExecutor(args.concurrency)

        def upload(key: str) -> None:
            upload_id = s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]

            def one(number: int) -> dict[str, object]:
                length = min(part_size, size - (number - 1) * part_size)
                answer = s3.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload_id, PartNumber=number, Body=body[:length]
                )
                return {"PartNumber": number, "ETag": answer["ETag"]}

            parts = list(pool.map(one, range(1, part_count + 1)))
            s3.complete_multipart_upload(
                Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
            )

        def download(key: str) -> None:
            def one(number: int) -> int:
                got = s3.get_object(Bucket=bucket, Key=key, PartNumber=number)["Body"]
                return sum(len(chunk) for chunk in got.iter_chunks(MIB))

            assert sum(pool.map(one, range(1, part_count + 1))) == size

        keys = [f"obj-{index}" for index in range(args.objects)]
        started = time.perf_counter()
        for key in keys:
            upload(key)
        put_s = time.perf_counter() - started
        started = time.perf_counter()
        for key in keys:
            download(key)
        get_s = time.perf_counter() - started
        total_mb = size * len(keys) / 1e6
        print(
            f"multipart {args.objects} x {args.size_mib} MiB in {args.part_mib} MiB parts, "
            f"{args.concurrency} parts in flight: upload {total_mb / put_s:.0f} MB/s "
            f"({len(keys) / put_s:.2f} objects/s), download {total_mb / get_s:.0f} MB/s"
        )
        for key in keys:
            s3.delete_object(Bucket=bucket, Key=key)
        s3.delete_bucket(Bucket=bucket)
    finally:
        if proc is not None:
            proc.terminate()
            proc.wait(timeout=20)
        workdir.cleanup()


if __name__ == "__main__":
    main()
