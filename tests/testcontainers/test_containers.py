"""StrataContainer and StrataClusterContainers, for real in Docker: S3 works, and stop() leaves nothing."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from pathlib import Path

from strata.testing.containers import StrataClusterContainers, StrataContainer
from strata.testing.running import Credentials, RunningStrata

MIB = 1024 * 1024


def _docker_inspect(kind: str, name: str) -> dict | None:
    result = subprocess.run(["docker", kind, "inspect", name], capture_output=True, text=True, timeout=60)
    return json.loads(result.stdout)[0] if result.returncode == 0 else None


def wait_for_access_line(log: Path, operation: str, timeout_s: float = 30) -> None:
    """The container's output reaches the file the pytest plugin checks: its JSON access lines."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in log.read_text(errors="replace").splitlines():
            with contextlib.suppress(ValueError):
                entry = json.loads(line)
                if isinstance(entry, dict) and entry.get("op") == operation and entry.get("status") == 200:
                    return
        time.sleep(0.1)
    raise AssertionError(f"no {operation} access line in {log}:\n{log.read_text(errors='replace')[-2000:]}")


def _multipart_round_trip(strata: RunningStrata, bucket: str) -> None:
    s3 = strata.boto3_client()
    s3.create_bucket(Bucket=bucket)
    parts = [os.urandom(5 * MIB), os.urandom(1000)]
    upload = s3.create_multipart_upload(Bucket=bucket, Key="big")
    etags = [
        s3.upload_part(Bucket=bucket, Key="big", UploadId=upload["UploadId"], PartNumber=n, Body=body)["ETag"]
        for n, body in enumerate(parts, start=1)
    ]
    s3.complete_multipart_upload(
        Bucket=bucket,
        Key="big",
        UploadId=upload["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, start=1)]},
    )
    assert s3.get_object(Bucket=bucket, Key="big")["Body"].read() == b"".join(parts)


def test_strata_container_serves_s3_on_loopback_and_is_removed_by_stop(docker_image: str) -> None:
    credentials = Credentials("containerKey", "containerSecret")
    with StrataContainer(image=docker_image, credentials=credentials) as strata:
        assert isinstance(strata, RunningStrata)
        assert strata.endpoint_url.startswith("http://127.0.0.1:")
        _multipart_round_trip(strata, "in-a-container")
        assert strata.container is not None
        container_id = strata.container.get_container_id()
        details = _docker_inspect("container", container_id)
        assert details is not None
        assert details["Config"]["Labels"]["org.strata.test"] == "1"
        assert [m for m in details["Mounts"] if m["Type"] == "volume"] == [], "state is in memory only"
        bindings = details["HostConfig"]["PortBindings"]["8000/tcp"]
        assert [binding["HostIp"] for binding in bindings] == ["127.0.0.1"]
        assert strata.log_dir is not None
        log_dir = strata.log_dir
        wait_for_access_line(log_dir / "server.log", "GetObject")
    assert _docker_inspect("container", container_id) is None
    assert not log_dir.exists()


def test_cluster_containers_serve_s3_and_stop_removes_containers_and_network(docker_image: str) -> None:
    with StrataClusterContainers(image=docker_image) as strata:
        assert isinstance(strata, RunningStrata)
        _multipart_round_trip(strata, "in-a-cluster")
        names = {name: strata.container(name).get_container_id() for name in strata.containers}
        assert set(names) == {"etcd", "metanode-1", "datanode-1", "coordinator-1", "gateway-1"}
        for container_id in names.values():
            details = _docker_inspect("container", container_id)
            assert details is not None and details["Config"]["Labels"]["org.strata.test"] == "1"
            assert [m for m in details["Mounts"] if m["Type"] == "volume"] == []
        network = _docker_inspect("network", strata.prefix)
        assert network is not None and network["Labels"]["org.strata.test"] == "1"
        prefix = strata.prefix
    assert all(_docker_inspect("container", container_id) is None for container_id in names.values())
    assert _docker_inspect("network", prefix) is None
