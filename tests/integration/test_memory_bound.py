"""Bodies stream through the gateway: a 1 GiB upload and download keep the server's memory small."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest
from boto3.s3.transfer import TransferConfig

from tests.integration.conftest import s3_client
from tests.integration.test_server_process import free_port, start_server, stop_server

GIB = 1024**3
RSS_LIMIT_BYTES = 250 * 1024**2


class PatternReader(io.RawIOBase):
    """``size`` bytes of a repeating 1 MiB pattern, generated on demand (never held whole)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self.position = 0
        self.block = hashlib.sha256(b"strata").digest() * (1024 * 1024 // 32)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[no-untyped-def]
        count = min(len(buffer), self.size - self.position)
        offset = self.position % len(self.block)
        filled = 0
        while filled < count:
            take = min(count - filled, len(self.block) - offset)
            buffer[filled : filled + take] = self.block[offset : offset + take]
            filled += take
            offset = 0
        self.position += count
        return count


def peak_rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmHWM")


@pytest.mark.timeout(600)
def test_one_gib_round_trip_keeps_server_rss_small(tmp_path: Path) -> None:
    port = free_port()
    proc = start_server(tmp_path, port)
    try:
        s3 = s3_client(f"http://127.0.0.1:{port}", s3={"payload_signing_enabled": False})
        s3.create_bucket(Bucket="big")
        single_part = TransferConfig(multipart_threshold=2 * GIB)
        source = PatternReader(GIB)
        expected = hashlib.md5()
        s3.upload_fileobj(io.BufferedReader(source, 1024 * 1024), "big", "one-gib", Config=single_part)
        digest = hashlib.md5()
        expected_reader = PatternReader(GIB)
        while chunk := expected_reader.read(8 * 1024 * 1024):
            expected.update(chunk)
        body = s3.get_object(Bucket="big", Key="one-gib")["Body"]
        received = 0
        for chunk in body.iter_chunks(1024 * 1024):
            digest.update(chunk)
            received += len(chunk)
        assert received == GIB
        assert digest.hexdigest() == expected.hexdigest()
        assert s3.head_object(Bucket="big", Key="one-gib")["ETag"] == f'"{expected.hexdigest()}"'
        rss = peak_rss(proc.pid)
        print(f"server peak RSS after 1 GiB up and down: {rss / 2**20:.0f} MiB")
        assert rss < RSS_LIMIT_BYTES
    finally:
        stop_server(proc)
