"""config.json's ``replicationGroupId``, imported into etcd, is the one metanodes put in version ids."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from metanode.client import MetadataClient
from metanode.keys import decode_version_id
from protos.metadata_pb2 import GetObjectRequest
from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster


def import_config(
    cluster: LocalCluster, path: Path, config: dict[str, object]
) -> subprocess.CompletedProcess[str]:
    path.write_text(json.dumps(config))
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "strata.cli",
            "config",
            "import",
            "--etcd",
            cluster.etcd,
            "--config",
            str(path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )


def stored_version_id(cluster: LocalCluster, bucket: str, key: str) -> str:
    async def read() -> str:
        client = MetadataClient(cluster.processes("metanode")[0].address)
        try:
            md = await client.get_object(GetObjectRequest(bucket=bucket, key=key))
            return decode_version_id(md.version_id)
        finally:
            await client.close()

    return asyncio.run(read())


@pytest.mark.timeout(180)
@pytest.mark.allow_server_errors(503)  # while the restarted metanode comes back
def test_metanode_makes_version_ids_in_the_imported_replication_group(tmp_path: Path) -> None:
    # One replica: the restarted metanode is the shard's only leader, so its new id is the one used.
    spec = ClusterSpec(gateway_base_port=None, gateways=1, datanodes=1, replicas=1)
    with LocalCluster(tmp_path / "c", spec) as cluster:
        s3 = s3_client(cluster.gateway_urls[0])
        s3.create_bucket(Bucket="versions")
        s3.put_bucket_versioning(Bucket="versions", VersioningConfiguration={"Status": "Enabled"})
        s3.put_object(Bucket="versions", Key="before", Body=b"1")
        assert stored_version_id(cluster, "versions", "before").endswith("RG001")

        imported = import_config(cluster, tmp_path / "config.json", {"replicationGroupId": "RG042"})
        assert imported.returncode == 0, imported.stderr
        cluster.restart(cluster.processes("metanode")[0].name)
        deadline = time.monotonic() + 30
        while True:
            try:
                s3.put_object(Bucket="versions", Key="after", Body=b"2")
                break
            except ClientError as error:
                assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 503, error.response
                assert time.monotonic() < deadline, "the gateway never reached the restarted metanode"
                time.sleep(0.2)
        assert stored_version_id(cluster, "versions", "after").endswith("RG042")
        assert s3.get_object(Bucket="versions", Key="before")["Body"].read() == b"1"
