"""Each operation docs/s3-api-support.md calls *not implemented* answers, from a real server, the
error the page names, and leaves the bucket and object it was sent to as they were."""

from __future__ import annotations

import http.client
import re
import urllib.parse
import uuid

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from gateway.s3.router import RULES
from strata.testing.embedded import EmbeddedThread
from tests.integration.conftest import ACCESS_KEY, SECRET_KEY, s3_client
from tests.unit.gateway.test_s3_api_support import rows

CODE = re.compile(rb"<Code>([^<]+)</Code>")


def signed_request(
    url: str, method: str, path: str, query: str, headers: dict[str, str]
) -> tuple[int, bytes]:
    body = b"<Request/>" if method in ("PUT", "POST") else b""
    target = path + (f"?{query}" if query else "")
    request = AWSRequest(method=method, url=url + target, data=body, headers=headers)
    request.headers["x-amz-content-sha256"] = "UNSIGNED-PAYLOAD"
    SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "s3", "us-east-1").add_auth(request)
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.request(method, target, body=body, headers=dict(request.headers.items()))
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_not_implemented_operations_answer_the_documented_error(server: EmbeddedThread) -> None:
    s3 = s3_client(server.url)
    bucket = f"matrix-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="kept", Body=b"unchanged")
    table = rows()
    checked = []
    for rule in RULES:
        row = table[rule.operation]
        if row.status != "not implemented":
            continue
        answer = re.search(r"`(\d{3}) (\w+)`", row.notes)
        assert answer, f"{rule.operation}: the row names no answer"
        path = {"service": "/", "bucket": f"/{bucket}", "object": f"/{bucket}/kept"}[rule.level]
        headers = {"Origin": "http://app.example.test", "Access-Control-Request-Method": "GET"}
        status, body = signed_request(
            server.url,
            rule.method,
            path,
            rule.sub_resource or "",
            headers if rule.method == "OPTIONS" else {},
        )
        code = CODE.search(body)
        assert (status, code.group(1).decode() if code else None) == (int(answer[1]), answer[2]), (
            rule.operation
        )
        checked.append(rule.operation)
    assert len(checked) >= 20, checked  # the page lists the unimplemented configuration families
    assert s3.get_object(Bucket=bucket, Key="kept")["Body"].read() == b"unchanged"
    s3.delete_object(Bucket=bucket, Key="kept")
    s3.delete_bucket(Bucket=bucket)
