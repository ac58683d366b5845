"""Cluster gateways serve HTTPS with the same certFilePaths/SSL settings as the embedded server."""

from __future__ import annotations

import json
from pathlib import Path

import boto3
import pytest
from botocore.config import Config

from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from tests.integration.test_https import make_certificates

pytestmark = pytest.mark.cluster


@pytest.mark.timeout(120)
def test_cluster_gateways_serve_https(tmp_path: Path) -> None:
    tls = tmp_path / "tls"
    tls.mkdir()
    certificates = make_certificates(tls)
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"certFilePaths": certificates}))
    spec = ClusterSpec(gateway_base_port=None, extra_env={"S3_CONFIG_FILE": str(config), "SSL": "true"})
    with LocalCluster(tmp_path / "cluster", spec) as cluster:
        assert all(url.startswith("https://127.0.0.1:") for url in cluster.gateway_urls)
        clients = [
            boto3.client(
                "s3",
                endpoint_url=url,
                aws_access_key_id="accessKey1",
                aws_secret_access_key="verySecretKey1",
                region_name="us-east-1",
                verify=certificates["ca"],
                config=Config(s3={"addressing_style": "path"}),
            )
            for url in cluster.gateway_urls
        ]
        clients[0].create_bucket(Bucket="tls-bucket")
        clients[0].put_object(Bucket="tls-bucket", Key="k", Body=b"x" * 200_000)
        assert clients[1].get_object(Bucket="tls-bucket", Key="k")["Body"].read() == b"x" * 200_000
        clients[1].delete_object(Bucket="tls-bucket", Key="k")
        clients[1].delete_bucket(Bucket="tls-bucket")
