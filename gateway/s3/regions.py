"""The regions this S3 endpoint answers for: what a SigV4 credential scope may name.

AWS refuses a request signed for another region or service; so do we. The set is ``us-east-1``,
each location's ``details.region``, every location name, and any region the operator lists.
Location names count because GetBucketLocation answers with them and clients sign with that
answer: CloudServer users sign with their location constraint (``us-west-1``,
``scality-us-east-1``), and the minio SDK, given no region, signs with the bucket's location
(``mem``, ``file``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

DEFAULT_REGION = "us-east-1"
SERVICE = "s3"


def served_regions(locations: Mapping[str, Mapping[str, Any]], extra: Iterable[str] = ()) -> frozenset[str]:
    regions = {DEFAULT_REGION, *(region.strip() for region in extra if region.strip())}
    for name, location in locations.items():
        regions.add(name)
        details = location.get("details") if isinstance(location, Mapping) else None
        region = details.get("region") if isinstance(details, Mapping) else None
        if isinstance(region, str) and region:
            regions.add(region)
    return frozenset(regions)


def expected_region(regions: frozenset[str]) -> str:
    """The region an error message names: us-east-1 when served, else the first in order."""
    return DEFAULT_REGION if DEFAULT_REGION in regions or not regions else sorted(regions)[0]


def bucket_region(location: str, locations: Mapping[str, Mapping[str, Any]]) -> str:
    """The region of a bucket whose location constraint is ``location`` (``x-amz-bucket-region``):
    the location's ``details.region`` when it names one, else the location's own name, which is
    what a client signs with after GetBucketLocation."""
    if not location:
        return DEFAULT_REGION
    config = locations.get(location)
    details = config.get("details") if isinstance(config, Mapping) else None
    region = details.get("region") if isinstance(details, Mapping) else None
    return region if isinstance(region, str) and region else location
