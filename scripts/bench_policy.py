#!/usr/bin/env python3
"""Cost of one bucket policy evaluation: a 20-statement policy with conditions.

    python scripts/bench_policy.py [--calls 200000] [--rounds 5]

Times ``gateway.policy.evaluate`` on the stored (compact) bytes, as the authorization decision
point calls it, for requests that match no statement (every statement is tried), that one Allow
matches, and that a Deny refuses; plus ``request_conditions`` building the request's keys. Prints
microseconds per call (best of ``--rounds``). A benchmark, not a test.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from gateway.policy import PolicyRequest, evaluate, parse_policy, request_conditions  # noqa: E402
from gateway.s3.accounts import Account  # noqa: E402

BUCKET = "bench"
ACCOUNT = Account(
    "Bart", "bart@strata.local", "arn:aws:iam::123456789012:root", "5ce0" + "0" * 60, "123456789012"
)


def twenty_statements() -> bytes:
    statements: list[dict[str, object]] = []
    for index in range(18):
        statements.append(
            {
                "Sid": f"team{index}",
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{100000000000 + index}:root"},
                "Action": ["s3:GetObject", "s3:PutObject*", "s3:List*"],
                "Resource": [f"arn:aws:s3:::{BUCKET}/team{index}/*", f"arn:aws:s3:::{BUCKET}"],
                "Condition": {
                    "IpAddress": {"aws:SourceIp": [f"10.{index}.0.0/16", "192.168.0.0/24"]},
                    "StringLike": {"s3:prefix": [f"team{index}/*"]},
                    "Bool": {"aws:SecureTransport": "true"},
                },
            }
        )
    statements.append(
        {
            "Sid": "public-assets",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/assets/*",
            "Condition": {
                "IpAddress": {"aws:SourceIp": "127.0.0.0/8"},
                "DateLessThan": {"aws:CurrentTime": "2099-01-01T00:00:00Z"},
            },
        }
    )
    statements.append(
        {
            "Sid": "deny-plain-http-writes",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    raw = json.dumps({"Version": "2012-10-17", "Statement": statements}).encode()
    return parse_policy(raw).compact


def conditions(secure: bool) -> dict[str, list[str]]:
    return request_conditions(
        source_ip="127.0.0.1",
        secure_transport=secure,
        user_agent="Boto3/1.40",
        referer=None,
        principal=ACCOUNT,
        auth_type="REST-HEADER",
        signature_version="v4",
        query={},
        headers={"x-amz-content-sha256": "UNSIGNED-PAYLOAD"},
        existing_object_tags=None,
        version_id=None,
        now=datetime.now(UTC),
    )


def best_microseconds(call: Callable[[], object], calls: int, rounds: int) -> float:
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            call()
        best = min(best, time.perf_counter() - started)
    return best / calls * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200_000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    stored = twenty_statements()
    # A fresh bytes object per request, as read from BucketInfo.policy.
    cases = {
        "no statement matches (GetObject, other key)": PolicyRequest(
            "s3:GetObject", f"arn:aws:s3:::{BUCKET}/private/x", ACCOUNT, conditions(True)
        ),
        "public Allow matches (GetObject assets/)": PolicyRequest(
            "s3:GetObject", f"arn:aws:s3:::{BUCKET}/assets/logo.png", None, conditions(True)
        ),
        "Deny matches (PutObject over http)": PolicyRequest(
            "s3:PutObject", f"arn:aws:s3:::{BUCKET}/assets/x", ACCOUNT, conditions(False)
        ),
    }
    print(f"policy: 20 statements, {len(stored)} bytes stored")
    for name, request in cases.items():
        effect = evaluate(bytes(stored), request)
        micros = best_microseconds(
            lambda request=request: evaluate(bytes(stored), request), args.calls, args.rounds
        )
        print(f"evaluate, {name}: {micros:.2f} us/call -> {effect.value}")
    micros = best_microseconds(lambda: conditions(True), args.calls // 4, args.rounds)
    print(f"request_conditions: {micros:.2f} us/call")


if __name__ == "__main__":
    main()
