"""A 2 GiB multipart round trip through a `strata server` process keeps its RSS under 300 MB
(STRATA_SLOW=1)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from tests.integration.conftest import s3_client
from tests.integration.test_memory_bound import PatternReader, peak_rss
from tests.integration.test_server_process import free_port, start_server, stop_server

GIB = 1024**3
MIB = 1024**2
RSS_LIMIT_BYTES = 300 * 1000**2

pytestmark = pytest.mark.skipif(
    os.environ.get("STRATA_SLOW") != "1", reason="2 GiB transfers run with STRATA_SLOW=1"
)


@pytest.mark.timeout(900)
def test_two_gib_multipart_round_trip_keeps_server_rss_small(tmp_path: Path) -> None:
    port = free_port()
    proc = start_server(tmp_path, port)
    try:
        s3 = s3_client(f"http://127.0.0.1:{port}")
        s3.create_bucket(Bucket="big-mpu")
        config = TransferConfig(multipart_threshold=8 * MIB, multipart_chunksize=8 * MIB, max_concurrency=4)
        s3.upload_fileobj(io.BufferedReader(PatternReader(2 * GIB), MIB), "big-mpu", "two-gib", Config=config)
        expected = hashlib.md5()
        reader = PatternReader(2 * GIB)
        while chunk := reader.read(8 * MIB):
            expected.update(chunk)
        head = s3.head_object(Bucket="big-mpu", Key="two-gib")
        assert head["ContentLength"] == 2 * GIB and head["ETag"].endswith('-256"')
        received = hashlib.md5()
        size = 0
        for chunk in s3.get_object(Bucket="big-mpu", Key="two-gib")["Body"].iter_chunks(MIB):
            received.update(chunk)
            size += len(chunk)
        assert size == 2 * GIB and received.hexdigest() == expected.hexdigest()
        rss = peak_rss(proc.pid)
        print(f"server peak RSS after a 2 GiB multipart round trip: {rss / 2**20:.0f} MiB")
        assert rss < RSS_LIMIT_BYTES
    finally:
        stop_server(proc)
