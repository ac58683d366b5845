"""aws cli v2 bucket policy round trip (``--policy file://...``) against the embedded server and a cluster."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.compat.targets import endpoint  # noqa: F401  (module fixture: embedded and cluster)
from tests.compat.test_awscli_v2 import aws  # noqa: F401  (the aws cli v2 runner fixture)

pytestmark = pytest.mark.compat


def test_aws_cli_bucket_policy_round_trip(aws, tmp_path: Path) -> None:  # noqa: F811
    bucket = f"cli-policy-{tmp_path.name[-8:].lower().replace('_', '-')}"
    aws("s3api", "create-bucket", "--bucket", bucket)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "PublicRead",
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    policy_file = tmp_path / "policy.json"
    policy_file.write_text(json.dumps(policy, indent=2) + "\n")
    aws("s3api", "put-bucket-policy", "--bucket", bucket, "--policy", f"file://{policy_file}")

    stored = json.loads(aws("s3api", "get-bucket-policy", "--bucket", bucket, "--output", "json"))["Policy"]
    assert stored == json.dumps(policy, separators=(",", ":"))
    status = json.loads(aws("s3api", "get-bucket-policy-status", "--bucket", bucket, "--output", "json"))
    assert status["PolicyStatus"]["IsPublic"] is True

    aws("s3api", "delete-bucket-policy", "--bucket", bucket)
    missing = _refused(aws, "s3api", "get-bucket-policy", "--bucket", bucket)
    assert "NoSuchBucketPolicy" in missing
    aws("s3api", "delete-bucket", "--bucket", bucket)


def test_aws_cli_shows_malformed_policy_messages(aws, tmp_path: Path) -> None:  # noqa: F811
    bucket = f"cli-bad-policy-{tmp_path.name[-6:].lower().replace('_', '-')}"
    aws("s3api", "create-bucket", "--bucket", bucket)
    bad = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::elsewhere/*",
            }
        ],
    }
    policy_file = tmp_path / "bad.json"
    policy_file.write_text(json.dumps(bad))
    message = _refused(
        aws, "s3api", "put-bucket-policy", "--bucket", bucket, "--policy", f"file://{policy_file}"
    )
    assert "MalformedPolicy" in message and "Policy has invalid resource" in message
    aws("s3api", "delete-bucket", "--bucket", bucket)


def _refused(aws, *args: str) -> str:  # type: ignore[no-untyped-def]  # noqa: F811
    with pytest.raises(AssertionError) as caught:
        aws(*args)
    return str(caught.value)
