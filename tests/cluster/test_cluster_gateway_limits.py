"""Cluster gateways (strata gateway processes) get the same timeouts, limits and scope checks as the embedded server."""

from __future__ import annotations

import http.client
import socket
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from tests.integration.conftest import s3_client
from tests.integration.test_auth_hardening import Answer, headers_of, send, signed
from tests.integration.test_auth_logs import Process
from tests.integration.test_streaming_auth import sign_request

pytestmark = pytest.mark.cluster

MAX_PUT = 1024 * 1024


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    env = {
        "STRATA_HEADER_TIMEOUT": "1",
        "STRATA_BODY_IDLE_TIMEOUT": "1",
        "STRATA_MAX_PUT_SIZE": str(MAX_PUT),
        "STRATA_REGIONS": "eu-central-1",
    }
    spec = ClusterSpec(gateway_base_port=None, gc_interval_s=3600.0, intent_ttl_s=3600.0, extra_env=env)
    with LocalCluster(tmp_path_factory.mktemp("limited"), spec) as running:
        yield running


def gateways(cluster: LocalCluster) -> list[Process]:
    return [Process(int(urlsplit(url).port or 0)) for url in cluster.gateway_urls]


@pytest.fixture(scope="module")
def bucket(limited: LocalCluster) -> str:
    name = f"limits-{uuid.uuid4().hex[:8]}"
    s3_client(limited.gateway_urls[0]).create_bucket(Bucket=name)
    return name


@pytest.mark.timeout(120)
def test_cluster_gateways_check_the_credential_scope(limited, bucket) -> None:
    for gateway in gateways(limited):
        for region, expected in (
            ("eu-west-9", (400, "AuthorizationHeaderMalformed")),
            ("eu-central-1", (200, None)),
        ):
            request = signed(gateway, "PUT", "127.0.0.1", f"/{bucket}/k", body=b"x", region=region)  # type: ignore[arg-type]
            answer = send(gateway, "PUT", f"/{bucket}/k", headers_of(request), request.body)  # type: ignore[arg-type]
            assert (answer.status, answer.code) == expected, answer.body
        request = signed(gateway, "DELETE", "127.0.0.1", f"/{bucket}/k", sign_host=False)  # type: ignore[arg-type]
        answer = send(gateway, "DELETE", f"/{bucket}/k", headers_of(request))  # type: ignore[arg-type]
        assert (answer.status, answer.code) == (403, "AccessDenied")


@pytest.mark.timeout(120)
def test_cluster_gateways_close_half_sent_heads(limited) -> None:
    for gateway in gateways(limited):
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=20) as sock:
            sock.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
            assert sock.recv(100) == b""


@pytest.mark.timeout(120)
def test_cluster_gateways_time_out_a_stalled_body(limited, bucket) -> None:
    s3 = s3_client(limited.gateway_urls[0])
    for gateway in gateways(limited):
        signing = sign_request(
            "PUT", f"127.0.0.1:{gateway.port}", f"/{bucket}/stalled", "UNSIGNED-PAYLOAD", {}
        )
        head = f"PUT /{bucket}/stalled HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in signing.headers.items()
        )
        with socket.create_connection(("127.0.0.1", gateway.port), timeout=30) as sock:
            sock.sendall((head + "Content-Length: 100\r\n\r\n").encode() + b"partial")
            response = http.client.HTTPResponse(sock)
            response.begin()
            answer = Answer(response.status, {}, response.read())
        assert (answer.status, answer.code) == (400, "RequestTimeout")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="stalled")


@pytest.mark.timeout(120)
def test_cluster_gateways_stop_chunked_uploads_at_the_put_limit(limited, bucket) -> None:
    s3 = s3_client(limited.gateway_urls[0])
    for gateway in gateways(limited):
        signing = sign_request(
            "PUT", f"127.0.0.1:{gateway.port}", f"/{bucket}/endless", "UNSIGNED-PAYLOAD", {}
        )
        connection = http.client.HTTPConnection("127.0.0.1", gateway.port, timeout=30)
        try:
            connection.putrequest("PUT", f"/{bucket}/endless", skip_host=True, skip_accept_encoding=True)
            for name, value in signing.headers.items():
                connection.putheader(name, value)
            connection.putheader("Transfer-Encoding", "chunked")
            connection.endheaders()
            piece = b"z" * 65536
            try:
                for _ in range(3 * MAX_PUT // len(piece)):
                    connection.send(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                connection.send(b"0\r\n\r\n")
            except (BrokenPipeError, ConnectionResetError):
                pass  # answered and closed before the client finished
            response = connection.getresponse()
            answer = Answer(response.status, {}, response.read())
        finally:
            connection.close()
        assert (answer.status, answer.code) == (400, "EntityTooLarge")
    assert "Contents" not in s3.list_objects_v2(Bucket=bucket, Prefix="endless")
