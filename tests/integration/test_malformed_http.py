"""Malformed HTTP gets an S3 XML 400 with the gateway's headers, and no traceback in the log."""

from __future__ import annotations

import logging
import socket
import time
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import urlsplit

import pytest

from strata.testing.embedded import EmbeddedThread
from tests.integration.conftest import s3_client


def exchange(port: int, *pieces: bytes) -> tuple[int, dict[str, str], bytes]:
    """Sends the pieces (pausing between them, so later ones reach a handler reading the body)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        for index, piece in enumerate(pieces):
            if index:
                time.sleep(0.3)
            sock.sendall(piece)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in header_lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


@pytest.fixture(scope="module")
def server():
    with EmbeddedThread(backend="mem") as running:
        yield running


def assert_s3_error(answer: tuple[int, dict[str, str], bytes], code: str) -> None:
    status, headers, body = answer
    assert status == 400, (status, body)
    assert headers["server"] == "Strata"
    assert headers["content-type"].startswith("application/xml")
    error = ET.fromstring(body)
    assert error.findtext("Code") == code
    assert error.findtext("RequestId") == headers["x-amz-request-id"]


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


def test_oversized_header_is_s3_400(server: EmbeddedThread, caplog: pytest.LogCaptureFixture) -> None:
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20_000 + b"\r\n\r\n"
    assert_s3_error(exchange(server.port, request), "RequestHeaderSectionTooLarge")
    assert tracebacks(caplog) == []


def test_garbage_request_line_is_s3_400(server: EmbeddedThread, caplog: pytest.LogCaptureFixture) -> None:
    assert_s3_error(exchange(server.port, b"NOT HTTP AT ALL\r\n\r\n"), "BadRequest")
    assert tracebacks(caplog) == []


def test_bad_chunk_size_is_s3_400(server: EmbeddedThread, caplog: pytest.LogCaptureFixture) -> None:
    request = (
        b"PUT /bucket/key HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nhello\r\n0\r\n\r\n"
    )
    assert_s3_error(exchange(server.port, request), "BadRequest")
    assert tracebacks(caplog) == []


def test_bad_chunk_while_the_body_streams_is_a_400_and_stores_nothing(
    server: EmbeddedThread, caplog: pytest.LogCaptureFixture
) -> None:
    # The framing breaks after the handler started reading the body: the client, still waiting,
    # gets an S3 400 at once and the connection is closed (nothing after the break can be trusted).
    s3 = s3_client(server.url)
    bucket = f"chunks-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=bucket)
    url = urlsplit(s3.generate_presigned_url("put_object", Params={"Bucket": bucket, "Key": "k"}))
    head = (
        f"PUT {url.path}?{url.query} HTTP/1.1\r\nHost: {url.netloc}\r\n"
        "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n"
    ).encode()
    answer = exchange(server.port, head, b"zz\r\nworld\r\n0\r\n\r\n")
    assert_s3_error(answer, "BadRequest")
    assert tracebacks(caplog) == []
    assert s3.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_healthcheck_and_errors_carry_the_same_server_header(server: EmbeddedThread) -> None:
    for request in (
        b"GET /_/healthcheck HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        b"GET /some-bucket HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        b"PUT /b/k HTTP/1.1\r\nHost: 127.0.0.1\r\nExpect: 200-ok\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx",
    ):
        status, headers, _ = exchange(server.port, request)
        assert headers["server"] == "Strata", (request, status, headers)
