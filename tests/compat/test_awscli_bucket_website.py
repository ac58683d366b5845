"""aws cli v2 website configuration and request payment, against the embedded server (and a cluster
with STRATA_SLOW=1)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.compat.targets import endpoint  # noqa: F401  (module fixture: embedded and cluster)
from tests.compat.test_awscli_v2 import aws  # noqa: F401  (the aws cli v2 runner fixture)

pytestmark = pytest.mark.compat


def test_aws_cli_website_and_request_payment(aws, tmp_path: Path) -> None:  # noqa: F811
    bucket = f"cli-site-{tmp_path.name[-8:].lower().replace('_', '-')}"
    aws("s3api", "create-bucket", "--bucket", bucket)
    payment = json.loads(aws("s3api", "get-bucket-request-payment", "--bucket", bucket, "--output", "json"))
    assert payment["Payer"] == "BucketOwner"

    configuration = {
        "IndexDocument": {"Suffix": "index.html"},
        "ErrorDocument": {"Key": "error.html"},
        "RoutingRules": [
            {"Condition": {"KeyPrefixEquals": "old/"}, "Redirect": {"ReplaceKeyPrefixWith": "new/"}}
        ],
    }
    config_file = tmp_path / "website.json"
    config_file.write_text(json.dumps(configuration, indent=2))
    aws("s3api", "put-bucket-website", "--bucket", bucket, "--website-configuration", f"file://{config_file}")
    stored = json.loads(aws("s3api", "get-bucket-website", "--bucket", bucket, "--output", "json"))
    assert {name: stored[name] for name in configuration} == configuration

    aws("s3api", "delete-bucket-website", "--bucket", bucket)
    with pytest.raises(AssertionError) as missing:
        aws("s3api", "get-bucket-website", "--bucket", bucket)
    assert "NoSuchWebsiteConfiguration" in str(missing.value)
    aws("s3api", "delete-bucket", "--bucket", bucket)
