"""No secret key, Authorization value or signature ever reaches the logs, even at trace level and on failures.

A real ``strata server`` process is driven with signed header, presigned, aws-chunked and POST-form
requests (good and bad ones, including non-ASCII signatures), then its whole log is searched for
every secret and every signature the clients sent. The same process then takes a thousand
half-sent requests: it drops them all, keeps serving, and its memory stays bounded.
"""

from __future__ import annotations

import http.client
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
from botocore.auth import HmacV1Auth
from botocore.awsrequest import AWSRequest

from tests.integration.conftest import ACCESS_KEY, OTHER_SECRET_KEY, SECRET_KEY, s3_client
from tests.integration.test_auth_hardening import (
    CREDENTIALS,
    ODD,
    post_form,
    presigned,
    send,
    signed,
    v4_form,
)
from tests.integration.test_server_process import free_port
from tests.integration.test_streaming_auth import sign_request, signed_chunks

_SIGNATURES = re.compile(
    rb"(?:Signature=|chunk-signature=|x-amz-trailer-signature:|name=\"(?:x-amz-signature|signature)\"\r\n\r\n)"
    rb"([^,&\s\"]+)",
    re.IGNORECASE,
)


@dataclass
class Process:
    port: int
    pid: int = 0

    def rss_bytes(self) -> int:
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class Recorder:
    """Everything the clients put on the wire that could carry a signature."""

    def __init__(self) -> None:
        self.sent: list[bytes] = []

    def add(self, *parts: str | bytes | None) -> None:
        for part in parts:
            if part:
                self.sent.append(part.encode("utf-8", "replace") if isinstance(part, str) else part)

    def boto_hook(self, request, **_: object) -> None:  # type: ignore[no-untyped-def]
        self.add(request.url, request.headers.get("Authorization"))

    def signatures(self) -> set[bytes]:
        found: set[bytes] = set()
        for blob in self.sent:
            found.update(match.group(1) for match in _SIGNATURES.finditer(blob))
            found.update(re.findall(rb"X-Amz-Signature%3D([0-9a-f]{64})", blob))
        return {signature for signature in found if len(signature) >= 16}


@pytest.fixture
def logged_server(tmp_path: Path):  # type: ignore[no-untyped-def]
    port = free_port()
    log_path = tmp_path / "server.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("S3", "SCALITY_", "STRATA_"))}
    env.update(
        LOG_LEVEL="trace",
        STRATA_REGIONS="eu-central-1",
        STRATA_BODY_IDLE_TIMEOUT="2",
        STRATA_HEADER_TIMEOUT="2",
    )
    with log_path.open("wb") as log_file:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "strata.cli",
                "server",
                "--backend",
                "mem",
                "--port",
                str(port),
                "--host",
                "127.0.0.1",
            ],
            cwd=tmp_path,
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, log_path.read_text()
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/_/healthcheck", timeout=2).read()
                break
            except OSError:
                assert time.monotonic() < deadline, "strata server did not answer within 20 s"
                time.sleep(0.05)
        yield Process(port, proc.pid), log_path
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def exercise(server: Process, recorder: Recorder) -> None:
    """Signed requests of every kind the gateway authenticates, right and wrong."""
    s3 = s3_client(server.url)
    s3.meta.events.register("before-send.s3", recorder.boto_hook)
    bucket = f"logs-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"body")
    s3.get_object(Bucket=bucket, Key="k")["Body"].read()
    wrong = s3_client(server.url, secret_key=OTHER_SECRET_KEY)
    wrong.meta.events.register("before-send.s3", recorder.boto_hook)
    with pytest.raises(wrong.exceptions.ClientError):
        wrong.get_object(Bucket=bucket, Key="k")

    # presigned: good, tampered, signed without host, foreign region
    url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": "k"}, ExpiresIn=60)
    recorder.add(url)
    assert urllib.request.urlopen(url, timeout=10).read() == b"body"
    for target in (
        url.replace("Signature=", "Signature=AAAA"),
        presigned(server, "GET", "127.0.0.1", f"/{bucket}/k", region="eu-west-9"),  # type: ignore[arg-type]
    ):
        recorder.add(target)
        full = target if target.startswith("http") else server.url + target
        with pytest.raises(urllib.error.HTTPError):
            urllib.request.urlopen(full, timeout=10)

    # header auth built by hand: unsigned host, non-ASCII signature, SigV2
    request = signed(server, "GET", "127.0.0.1", f"/{bucket}/k", sign_host=False)  # type: ignore[arg-type]
    headers = {"Host": f"127.0.0.1:{server.port}", **dict(request.headers.items())}
    recorder.add(request.headers["Authorization"])
    assert send(server, "GET", f"/{bucket}/k", headers).status == 403  # type: ignore[arg-type]
    odd = request.headers["Authorization"].rsplit("Signature=", 1)[0] + "Signature=" + ODD
    headers["Authorization"] = odd.encode("utf-8")  # type: ignore[assignment]
    recorder.add(odd)
    assert send(server, "GET", f"/{bucket}/k", headers).status == 403  # type: ignore[arg-type]
    v2 = AWSRequest(method="GET", url=f"{server.url}/{bucket}/k")
    HmacV1Auth(CREDENTIALS).add_auth(v2)
    recorder.add(v2.headers["Authorization"])
    v2_headers = {"Host": f"127.0.0.1:{server.port}", **dict(v2.headers.items())}
    assert send(server, "GET", f"/{bucket}/k", v2_headers).status == 200  # type: ignore[arg-type]
    v2_headers["Authorization"] = v2.headers["Authorization"][:-4] + "AAA="
    assert send(server, "GET", f"/{bucket}/k", v2_headers).status == 403  # type: ignore[arg-type]

    # aws-chunked with chunk signatures: good and with a corrupt chunk
    for key, corrupt in (("chunked", -1), ("chunked-bad", 0)):
        data = [b"a" * 1000, b"b" * 10]
        signing = sign_request(
            "PUT",
            f"127.0.0.1:{server.port}",
            f"/{bucket}/{key}",
            "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            {"x-amz-decoded-content-length": "1010", "content-encoding": "aws-chunked"},
        )
        body = signed_chunks(signing, data, corrupt=corrupt)
        recorder.add(signing.headers["authorization"], body)
        answer = send(
            server, "PUT", f"/{bucket}/{key}", {**signing.headers, "Content-Length": str(len(body))}, body
        )  # type: ignore[arg-type]
        assert answer.status == (200 if corrupt < 0 else 403)

    # POST forms: good, tampered, non-ASCII
    for change in (None, "0" * 64, ODD):
        fields = v4_form(bucket, f"form-{change is None}")
        if change is not None:
            fields["x-amz-signature"] = change
        recorder.add(*fields.values())
        recorder.add(f'name="x-amz-signature"\r\n\r\n{fields["x-amz-signature"]}')
        assert post_form(server, bucket, fields).status == (204 if change is None else 403)  # type: ignore[arg-type]

    # a body that stalls ends with RequestTimeout; the server still answers afterwards
    stalled = sign_request("PUT", f"127.0.0.1:{server.port}", f"/{bucket}/stalled", "UNSIGNED-PAYLOAD", {})
    recorder.add(stalled.headers["authorization"])
    head = f"PUT /{bucket}/stalled HTTP/1.1\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in stalled.headers.items()
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall((head + "Content-Length: 100\r\n\r\n").encode() + b"partial")
        response = http.client.HTTPResponse(sock)
        response.begin()
        assert b"<Code>RequestTimeout</Code>" in response.read()
    s3.put_object(Bucket=bucket, Key="after", Body=b"still fine")


def test_logs_hold_no_secret_authorization_or_signature(logged_server) -> None:  # type: ignore[no-untyped-def]
    server, log_path = logged_server
    recorder = Recorder()
    exercise(server, recorder)
    log = log_path.read_bytes()
    assert b'"op": "PutObject"' in log or b"op=PutObject" in log  # the requests were logged at all
    signatures = recorder.signatures()
    assert len(signatures) >= 10, signatures
    for secret in (SECRET_KEY, OTHER_SECRET_KEY):
        assert secret.encode() not in log
    for signature in signatures:
        assert signature not in log, signature
    assert b"AWS4-HMAC-SHA256 Credential=" not in log
    assert f"AWS {ACCESS_KEY}:".encode() not in log
    assert b"Traceback" not in log
    assert b"unhandled error" not in log


def test_a_thousand_half_sent_requests_are_dropped_with_bounded_memory(logged_server) -> None:  # type: ignore[no-untyped-def]
    server, _ = logged_server
    s3 = s3_client(server.url)
    s3.list_buckets()
    before = server.rss_bytes()
    sockets = []
    try:
        for index in range(1000):
            sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
            sock.sendall(
                b"PUT /b/k HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1000000\r\nX-Slow: " + b"x" * index
            )
            sockets.append(sock)
        assert s3.list_buckets()["Buckets"] == []  # a normal client is served meanwhile
        peak = server.rss_bytes()
        for sock in sockets:
            sock.settimeout(30)
            try:
                assert sock.recv(65536) == b""
            except ConnectionResetError:
                pass
    finally:
        for sock in sockets:
            sock.close()
    assert peak - before < 64 * 1024**2, (before, peak)
    assert s3.list_buckets()["Buckets"] == []
