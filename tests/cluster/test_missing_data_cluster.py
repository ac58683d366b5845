"""In a cluster, an object whose blob no datanode still holds answers 503 as an S3 error, not a 500."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from strata.testing.cluster import LocalCluster
from tests.integration.conftest import s3_client


def _blob_files(cluster: LocalCluster) -> set[Path]:
    files: set[Path] = set()
    for record in cluster.processes("datanode"):
        root = cluster.launcher.workdir / record.name
        files.update(path for path in root.rglob("*") if path.is_file() and len(path.name) == 32)
    return files


@pytest.mark.timeout(120)
@pytest.mark.allow_server_errors(503)
def test_get_of_an_object_whose_blobs_are_gone_is_service_unavailable(cluster: LocalCluster) -> None:
    s3 = s3_client(cluster.gateway_urls[0])
    s3.create_bucket(Bucket="lost-data")
    before = _blob_files(cluster)
    s3.put_object(Bucket="lost-data", Key="lost", Body=os.urandom(300_000))
    written = _blob_files(cluster) - before
    assert written, "the object must be stored in blobs on the datanodes"
    for path in written:
        path.unlink()
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket="lost-data", Key="lost")
    response = excinfo.value.response
    assert (response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ServiceUnavailable",
        503,
    )
    assert response["ResponseMetadata"]["RequestId"]
    s3.delete_object(Bucket="lost-data", Key="lost")
    s3.delete_bucket(Bucket="lost-data")
