"""Bucket configuration through gateways and metanodes in separate processes: a website and a logging
configuration stored through one gateway are served by the other."""

from __future__ import annotations

import asyncio
import json
import urllib.parse
import uuid

import aiohttp
import pytest

from strata.testing.cluster import LocalCluster
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster


async def _website_get(url: str, host: str, path: str) -> tuple[int, bytes]:
    async with aiohttp.ClientSession() as session:
        async with session.get(url + path, headers={"Host": host}, allow_redirects=False) as response:
            return response.status, await response.read()


def test_a_website_configured_through_one_gateway_is_served_by_the_other(cluster: LocalCluster) -> None:
    first_url, second_url = cluster.gateway_urls[:2]
    owner, owner_there = s3_client(first_url), s3_client(second_url)
    bucket, logs = f"cl-site-{uuid.uuid4().hex[:8]}", f"cl-logs-{uuid.uuid4().hex[:8]}"
    owner.create_bucket(Bucket=bucket)
    owner.create_bucket(Bucket=logs)
    try:
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": [f"arn:aws:s3:::{bucket}/*", f"arn:aws:s3:::{bucket}"],
                }
            ],
        }
        owner.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))
        owner.put_object(Bucket=bucket, Key="index.html", Body=b"<h1>home</h1>", ContentType="text/html")
        owner.put_object(Bucket=bucket, Key="error.html", Body=b"<h1>lost</h1>", ContentType="text/html")
        owner.put_bucket_website(
            Bucket=bucket,
            WebsiteConfiguration={
                "IndexDocument": {"Suffix": "index.html"},
                "ErrorDocument": {"Key": "error.html"},
            },
        )
        owner.put_bucket_logging(
            Bucket=bucket,
            BucketLoggingStatus={"LoggingEnabled": {"TargetBucket": logs, "TargetPrefix": "a/"}},
        )

        assert owner_there.get_bucket_website(Bucket=bucket)["IndexDocument"] == {"Suffix": "index.html"}
        logging = owner_there.get_bucket_logging(Bucket=bucket)["LoggingEnabled"]
        assert (logging["TargetBucket"], logging["TargetPrefix"]) == (logs, "a/")
        port = urllib.parse.urlsplit(second_url).port
        host = f"{bucket}.s3-website.localhost:{port}"
        assert asyncio.run(_website_get(second_url, host, "/")) == (200, b"<h1>home</h1>")
        assert asyncio.run(_website_get(second_url, host, "/missing")) == (404, b"<h1>lost</h1>")
    finally:
        for key in ("index.html", "error.html"):
            owner.delete_object(Bucket=bucket, Key=key)
        owner.delete_bucket(Bucket=bucket)
        owner.delete_bucket(Bucket=logs)
