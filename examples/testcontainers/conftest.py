"""One Strata for the whole session, in Docker or (without Docker) as local processes.

pytest                                  # StrataContainer: the embedded server's image
STRATA_EXAMPLE_TARGET=local pytest      # LocalCluster: etcd, metanodes, datanodes, gateways
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from strata.testing.running import RunningStrata


@pytest.fixture(scope="session")
def strata() -> Iterator[RunningStrata]:
    if os.environ.get("STRATA_EXAMPLE_TARGET", "container") == "local":
        from strata.testing.cluster import LocalCluster

        with LocalCluster() as cluster:
            yield cluster
    else:
        from strata.testing.containers import StrataContainer

        with StrataContainer() as container:
            yield container


@pytest.fixture
def s3(strata: RunningStrata) -> Any:
    return strata.boto3_client()


@pytest.fixture
def bucket(s3: Any) -> Iterator[str]:
    """A new bucket for one test, emptied (every version) and deleted afterwards."""
    name = f"example-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    yield name
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=name):
        for version in page.get("Versions", []) + page.get("DeleteMarkers", []):
            s3.delete_object(Bucket=name, Key=version["Key"], VersionId=version["VersionId"])
    for upload in s3.list_multipart_uploads(Bucket=name).get("Uploads", []):
        s3.abort_multipart_upload(Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"])
    s3.delete_bucket(Bucket=name)
