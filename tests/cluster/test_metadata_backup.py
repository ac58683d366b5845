"""``strata admin metadata backup`` from a running shard, and ``restore`` after every replica's
directory is lost: the shard comes back as of the backup, elects the restored replica, and the
empty ones copy from it."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from tests.cluster.test_admin_cli import admin
from tests.integration.conftest import s3_client

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(600)]

METANODES = ["metanode-1", "metanode-2", "metanode-3"]


def wait_for(condition, timeout_s: float, what: str):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            value = condition()
            if value:
                return value
        except ClientError:
            pass
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)


def test_a_backup_restored_after_every_replica_is_lost_brings_the_shard_back(tmp_path: Path) -> None:
    spec = ClusterSpec(gateway_base_port=None, gateways=1, datanodes=2, gc_interval_s=3600.0)
    with LocalCluster(tmp_path / "c", spec) as cluster:
        s3 = s3_client(cluster.gateway_urls[0])
        s3.create_bucket(Bucket="kept")
        before = {f"before-{index}": os.urandom(5000 + index) for index in range(20)}
        for key, body in before.items():
            s3.put_object(Bucket="kept", Key=key, Body=body)
        s3.put_object_tagging(Bucket="kept", Key="before-0", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})

        backups = tmp_path / "backups"
        made = admin(cluster, "metadata", "backup", str(backups), "--json")
        assert made.returncode == 0, made.stdout + made.stderr
        [manifest] = json.loads(made.stdout)["backups"]
        assert manifest["shard"] == "s1" and manifest["last_index"] > 0
        assert manifest["leader"] == cluster.shard_leader("s1")
        assert (backups / "s1" / "manifest.json").is_file()
        assert not (backups / "s1.partial").exists()
        # A second backup into the same directory is refused; the first stays whole.
        again = admin(cluster, "metadata", "backup", str(backups))
        assert again.returncode == 1 and "exists" in again.stderr, again.stderr

        after = {f"after-{index}": os.urandom(3000) for index in range(5)}
        for key, body in after.items():
            s3.put_object(Bucket="kept", Key=key, Body=body)

        # Restoring while the shard runs is refused, and touches nothing.
        target = cluster.workdir / "metanode-1"
        running = admin(cluster, "metadata", "restore", str(backups / "s1"), "--data-dir",
                        str(tmp_path / "elsewhere"), "--node-id", "metanode-1")  # fmt: skip
        assert running.returncode == 1 and "stop every metanode" in running.stderr, running.stderr
        assert not (tmp_path / "elsewhere").exists()

        # Every replica's directory is lost.
        for name in METANODES:
            cluster.stop_process(name)
        wait_for(lambda: cluster.shard_leader("s1") is None, 30, "the leader key to go")
        for name in METANODES:
            shutil.rmtree(cluster.workdir / name)

        # A damaged backup is refused before anything is written.
        damaged = tmp_path / "damaged"
        shutil.copytree(backups / "s1", damaged)
        victim = next(path for path in sorted(damaged.rglob("*.sst")))
        victim.write_bytes(victim.read_bytes()[:-1] + b"\0")
        refused = admin(cluster, "metadata", "restore", str(damaged), "--data-dir", str(target))
        assert refused.returncode == 1 and "does not match" in refused.stderr, refused.stderr
        assert not target.exists()

        restored = admin(cluster, "metadata", "restore", str(backups / "s1"), "--data-dir", str(target),
                         "--node-id", "metanode-1")  # fmt: skip
        assert restored.returncode == 0, restored.stdout + restored.stderr
        for name in METANODES:
            cluster.start_process(name)

        # The shard serves what the backup holds: everything from before it, nothing after.
        wait_for(lambda: s3.head_bucket(Bucket="kept"), 60, "the shard to serve again")
        assert cluster.shard_leader("s1") == "metanode-1"
        for key, body in before.items():
            assert s3.get_object(Bucket="kept", Key=key)["Body"].read() == body
        assert s3.get_object_tagging(Bucket="kept", Key="before-0")["TagSet"] == [{"Key": "k", "Value": "v"}]
        for key in after:
            with pytest.raises(ClientError) as missing:
                s3.head_object(Bucket="kept", Key=key)
            assert missing.value.response["Error"]["Code"] == "404"
        listed = s3.list_objects_v2(Bucket="kept")
        assert sorted(item["Key"] for item in listed["Contents"]) == sorted(before)

        # It takes writes, and the empty replicas catch up into the ISR.
        s3.put_object(Bucket="kept", Key="new", Body=b"written after the restore")
        wait_for(lambda: sorted(cluster.shard_isr("s1")) == METANODES, 120, "all three replicas in sync")
        assert s3.get_object(Bucket="kept", Key="new")["Body"].read() == b"written after the restore"
