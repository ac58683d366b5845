"""The regions this S3 endpoint answers for: what a SigV4 credential scope may name.

AWS refuses a request signed for another region or service; so do we. The set is ``us-east-1``,
each location's ``details.region``, the location names that are region-shaped (CloudServer users
sign with their location constraint, e.g. ``us-west-1`` or ``scality-us-east-1``), and any region
the operator lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

DEFAULT_REGION = "us-east-1"
SERVICE = "s3"
_REGION_SHAPED = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*-[0-9]+$")


def served_regions(locations: Mapping[str, Mapping[str, Any]], extra: Iterable[str] = ()) -> frozenset[str]:
    regions = {DEFAULT_REGION, *(region.strip() for region in extra if region.strip())}
    for name, location in locations.items():
        if _REGION_SHAPED.match(name):
            regions.add(name)
        details = location.get("details") if isinstance(location, Mapping) else None
        region = details.get("region") if isinstance(details, Mapping) else None
        if isinstance(region, str) and region:
            regions.add(region)
    return frozenset(regions)


def expected_region(regions: frozenset[str]) -> str:
    """The region an error message names: us-east-1 when served, else the first in order."""
    return DEFAULT_REGION if DEFAULT_REGION in regions or not regions else sorted(regions)[0]
