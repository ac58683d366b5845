from __future__ import annotations

import json
from typing import Any

from gateway.s3.accounts import Account

BUCKET = "photos"
BART = Account(
    name="Bart",
    email="bart@strata.local",
    arn="arn:aws:iam::123456789012:root",
    canonical_id="5ce086747eb8ab8577d9908e3cd9334499b1f37c2526e1b436936ea8b5b8ba14",
    short_id="123456789012",
)
LISA = Account(
    name="Lisa",
    email="lisa@strata.local",
    arn="arn:aws:iam::123456789013:root",
    canonical_id="daa27b9d5c4a3f349b34e2b9e8e9545dbb9a48564dfc5590e9b085716fc2c84a",
    short_id="123456789013",
)


def statement(**fields: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": "*",
        "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{BUCKET}/*",
    }
    base.update(fields)
    return {name: value for name, value in base.items() if value is not None}


def document(*statements: dict[str, Any], **top: Any) -> bytes:
    return json.dumps({"Version": "2012-10-17", **top, "Statement": list(statements)}).encode()
