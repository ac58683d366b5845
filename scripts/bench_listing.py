#!/usr/bin/env python3
"""Listing benchmark: a bucket of N objects under P prefixes in an embedded server.

Fills the metadata store directly with KV batches (no HTTP: a million PUTs would
measure the write path, not listing), then times through boto3 against the
embedded server:

- the top-level delimiter listing (ListObjectsV2, delimiter "/"): P common prefixes;
- a page of 1,000 keys under one prefix (ListObjectsV2 and ListObjectVersions);
- the same delimiter listing as ListObjectVersions.

    python scripts/bench_listing.py [--backend mem|file] [--prefixes 1000] [--per-prefix 1000]

Not a test: it prints figures (median and max of --repeat runs).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import boto3
from botocore.config import Config

from metanode import keys
from metanode.kv import KV
from protos.metadata_pb2 import BucketName, ObjectMD
from strata.testing.embedded import EmbeddedThread

ACCESS_KEY, SECRET_KEY = "accessKey1", "verySecretKey1"
BATCH = 20_000


def fill(kv: KV, bucket_uid: str, owner_id: str, prefixes: int, per_prefix: int) -> float:
    """Writes prefixes x per_prefix master records in key order; returns the seconds it took."""
    started = time.perf_counter()
    template = ObjectMD(
        etag="d41d8cd98f00b204e9800998ecf8427e", size=0, owner_id=owner_id, last_modified_ms=1
    )
    batch: list[tuple[bytes, bytes]] = []
    for p in range(prefixes):
        for n in range(per_prefix):
            key = f"prefix-{p:05d}/object-{n:06d}"
            template.key = key
            batch.append((keys.master_key(bucket_uid, key), keys.encode_record(template)))
            if len(batch) >= BATCH:
                kv.write(batch, [], sync=False)
                batch = []
    if batch:
        kv.write(batch, [], sync=False)
    return time.perf_counter() - started


def timed(label: str, repeat: int, call: Callable[[], int]) -> None:
    durations: list[float] = []
    count = 0
    for _ in range(repeat):
        started = time.perf_counter()
        count = call()
        durations.append(time.perf_counter() - started)
    print(
        f"{label:<58} {count:>6} items  median {statistics.median(durations) * 1000:8.1f} ms"
        f"  max {max(durations) * 1000:8.1f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--backend", choices=["mem", "file"], default="mem")
    parser.add_argument("--prefixes", type=int, default=1000)
    parser.add_argument("--per-prefix", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="strata-bench-") as workdir:
        root = Path(workdir) if args.backend == "file" else None
        with EmbeddedThread(backend=args.backend, root=root) as server:
            s3 = boto3.client(
                "s3",
                endpoint_url=server.url,
                aws_access_key_id=ACCESS_KEY,
                aws_secret_access_key=SECRET_KEY,
                region_name="us-east-1",
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
            )
            s3.create_bucket(Bucket="bench")
            assert server.server is not None
            core = server.server.core
            bucket = server.call(core.get_bucket(BucketName(name="bench")))
            total = args.prefixes * args.per_prefix
            seconds = fill(core.kv, bucket.uid, bucket.owner_id, args.prefixes, args.per_prefix)
            print(
                f"backend {args.backend}: filled {total:,} objects under {args.prefixes:,} prefixes in {seconds:.1f} s"
            )

            middle = f"prefix-{args.prefixes // 2:05d}/"
            timed(
                "ListObjectsV2 delimiter '/' (top level)",
                args.repeat,
                lambda: len(
                    s3.list_objects_v2(Bucket="bench", Delimiter="/", MaxKeys=1000).get("CommonPrefixes", [])
                ),
            )
            timed(
                f"ListObjectsV2 prefix {middle} (one page)",
                args.repeat,
                lambda: len(
                    s3.list_objects_v2(Bucket="bench", Prefix=middle, MaxKeys=1000).get("Contents", [])
                ),
            )
            timed(
                "ListObjectVersions delimiter '/' (top level)",
                args.repeat,
                lambda: len(
                    s3.list_object_versions(Bucket="bench", Delimiter="/", MaxKeys=1000).get(
                        "CommonPrefixes", []
                    )
                ),
            )
            timed(
                f"ListObjectVersions prefix {middle} (one page)",
                args.repeat,
                lambda: len(
                    s3.list_object_versions(Bucket="bench", Prefix=middle, MaxKeys=1000).get("Versions", [])
                ),
            )
            timed(
                "ListObjectsV2 with no delimiter (first 1,000 of all)",
                args.repeat,
                lambda: len(s3.list_objects_v2(Bucket="bench", MaxKeys=1000).get("Contents", [])),
            )


if __name__ == "__main__":
    main()
