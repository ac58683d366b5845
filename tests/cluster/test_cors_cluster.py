"""CORS through gateways and metanodes in separate processes: a configuration stored through one
gateway is served, preflights included, by another."""

from __future__ import annotations

import http.client
import urllib.parse
import uuid

import pytest

from strata.testing.cluster import LocalCluster
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster

ORIGIN = "http://app.example.test"
RULES = {
    "CORSRules": [
        {"ID": "app", "AllowedOrigins": [ORIGIN], "AllowedMethods": ["GET"], "ExposeHeaders": ["ETag"]}
    ]
}


def preflight(url: str, path: str) -> tuple[int, dict[str, str]]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
    try:
        connection.request(
            "OPTIONS", path, headers={"Origin": ORIGIN, "Access-Control-Request-Method": "GET"}
        )
        response = connection.getresponse()
        response.read()
        return response.status, dict(response.getheaders())
    finally:
        connection.close()


def test_a_cors_configuration_stored_through_one_gateway_is_served_by_the_other(
    cluster: LocalCluster,
) -> None:
    first_url, second_url = cluster.gateway_urls[:2]
    owner = s3_client(first_url)
    bucket = f"cl-cors-{uuid.uuid4().hex[:8]}"
    owner.create_bucket(Bucket=bucket)
    try:
        assert preflight(second_url, f"/{bucket}/k")[0] == 403
        owner.put_bucket_cors(Bucket=bucket, CORSConfiguration=RULES)
        assert s3_client(second_url).get_bucket_cors(Bucket=bucket)["CORSRules"] == RULES["CORSRules"]
        status, headers = preflight(second_url, f"/{bucket}/k")
        assert status == 200
        assert headers["Access-Control-Allow-Origin"] == ORIGIN
        assert headers["Access-Control-Expose-Headers"] == "ETag"
        s3_client(second_url).delete_bucket_cors(Bucket=bucket)
        assert preflight(first_url, f"/{bucket}/k")[0] == 403
    finally:
        owner.delete_bucket(Bucket=bucket)
