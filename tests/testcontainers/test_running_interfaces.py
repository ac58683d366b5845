"""Every process-based way to run Strata offers the same RunningStrata interface, for real."""

from __future__ import annotations

from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from strata.localcluster import ClusterError, ClusterSpec
from strata.testing.cluster import LocalCluster
from strata.testing.embedded import EmbeddedThread
from strata.testing.running import Credentials, RunningStrata
from strata.testing.server_process import StrataServerProcess


def _round_trip(strata: RunningStrata, bucket: str) -> None:
    s3 = strata.boto3_client()
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"hello")
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"hello"
    assert [b["Name"] for b in s3.list_buckets()["Buckets"]] == [bucket]


def test_server_process_accepts_its_own_credentials_only(tmp_path: Path) -> None:
    credentials = Credentials("tenantKey", "tenantSecret")
    with StrataServerProcess(tmp_path, credentials=credentials) as server:
        assert isinstance(server, RunningStrata)
        assert server.credentials == credentials
        assert server.endpoint_url.startswith("http://127.0.0.1:")
        _round_trip(server, "own-keys")
        with pytest.raises(ClientError) as raised:
            server.boto3_client(
                aws_access_key_id="accessKey1", aws_secret_access_key="verySecretKey1"
            ).list_buckets()
        assert raised.value.response["Error"]["Code"] == "InvalidAccessKeyId"
    assert (tmp_path / "localData").is_dir(), "the file backend kept its data in the given directory"


def test_server_process_removes_the_directory_it_made_when_stopped() -> None:
    server = StrataServerProcess(backend="mem").start()
    try:
        workdir = server.workdir
        assert workdir is not None and workdir.is_dir()
        _round_trip(server, "temporary")
    finally:
        server.stop()
    assert not workdir.exists()
    assert server.process is None


def test_server_process_that_cannot_start_says_why(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-config.json"
    with pytest.raises(ClusterError, match="no-such-config.json"):
        StrataServerProcess(tmp_path, extra_env={"S3_CONFIG_FILE": str(missing)}).start()


def test_embedded_thread_offers_the_interface() -> None:
    with EmbeddedThread(backend="mem") as server:
        assert isinstance(server, RunningStrata)
        assert server.endpoint_url == server.url
        _round_trip(server, "in-process")


@pytest.mark.cluster
def test_local_cluster_offers_the_interface_in_a_directory_of_its_own() -> None:
    with LocalCluster(
        spec=ClusterSpec(gateway_base_port=None, replicas=1, datanodes=1, gateways=1)
    ) as cluster:
        assert isinstance(cluster, RunningStrata)
        assert cluster.endpoint_url == cluster.gateway_urls[0]
        _round_trip(cluster, "cluster")
        workdir = cluster.workdir
    assert not workdir.exists()
