"""The operator commands against a real cluster: listings, object stat, usage, config, node drain.

One cluster (4 datanodes, replication factor 3) serves the whole module; the tests run in file
order and the last one decommissions a datanode.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from metanode.client import MetadataClient
from protos.metadata_pb2 import GetObjectRequest
from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from tests.integration.conftest import s3_client

pytestmark = pytest.mark.cluster

SMALL = "admin-small"
BIG = "admin-big"
BODIES = {f"object-{index}": os.urandom(200_000 + index) for index in range(8)}
SMALL_BODY = b"x" * 70_000


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    workdir = tmp_path_factory.mktemp("admin") / "c"
    spec = ClusterSpec(
        gateway_base_port=None,
        gateways=1,
        datanodes=4,
        gc_interval_s=3600.0,
        repair_interval_s=3600.0,
        repair_grace_s=3600.0,
    )
    with LocalCluster(workdir, spec) as running:
        s3 = s3_client(running.gateway_urls[0])
        s3.create_bucket(Bucket=BIG)
        s3.create_bucket(Bucket=SMALL)
        for key, body in BODIES.items():
            s3.put_object(Bucket=BIG, Key=key, Body=body)
        s3.put_object(Bucket=SMALL, Key="one", Body=SMALL_BODY)
        yield running


def admin(cluster: LocalCluster, *command: str) -> subprocess.CompletedProcess[str]:
    env = {name: value for name, value in os.environ.items() if name != "STRATA_ETCD"}
    return subprocess.run(
        [sys.executable, "-m", "strata.cli", "admin", *command, "--etcd", cluster.etcd],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def ok(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def rows_of(table: str) -> list[list[str]]:
    return [line.split() for line in table.splitlines()[1:]]


def test_bucket_list_table_and_json(cluster: LocalCluster) -> None:
    document = json.loads(ok(admin(cluster, "bucket", "list", "--json")))
    by_name = {bucket["name"]: bucket for bucket in document["buckets"]}
    assert set(by_name) == {BIG, SMALL}
    big = by_name[BIG]
    assert big["objects"] == len(BODIES)
    assert big["bytes"] == sum(map(len, BODIES.values()))
    assert big["stored_bytes"] == big["bytes"] and big["versions"] == len(BODIES)
    assert big["shard"] == "s1" and big["location"] == "us-east-1" and big["owner_id"]
    assert by_name[SMALL]["objects"] == 1 and by_name[SMALL]["bytes"] == len(SMALL_BODY)

    table = ok(admin(cluster, "bucket", "list"))
    assert table.splitlines()[0].split() == [
        "NAME", "OWNER", "LOCATION", "SHARD", "OBJECTS", "BYTES", "VERSIONS", "UPLOADS", "STORED",
    ]  # fmt: skip
    rows = {row[0]: row for row in rows_of(table)}
    assert rows[BIG][4:6] == [str(len(BODIES)), str(big["bytes"])]
    assert rows[SMALL][4:6] == ["1", str(len(SMALL_BODY))]


def test_usage_adds_up_per_account(cluster: LocalCluster) -> None:
    document = json.loads(ok(admin(cluster, "usage", "--json")))
    owners = [account for account in document["accounts"] if account["buckets"]]
    assert len(owners) == 1, document
    (owner,) = owners
    assert owner["objects"] == len(BODIES) + 1
    assert owner["bytes"] == sum(map(len, BODIES.values())) + len(SMALL_BODY)
    assert owner["name"], "the owner is named from the stored accounts"
    table = ok(admin(cluster, "usage"))
    assert table.splitlines()[0].split()[:3] == ["ACCOUNT", "CANONICAL", "ID"]
    (row,) = [row for row in rows_of(table) if row[0] == owner["name"]]
    assert row[1:] == [
        owner["canonical_id"],
        "2",
        str(owner["objects"]),
        str(owner["bytes"]),
        str(owner["bytes"]),
    ]


def test_object_stat_shows_every_replica_present(cluster: LocalCluster) -> None:
    key = "object-3"
    document = json.loads(ok(admin(cluster, "object", "stat", BIG, key, "--json")))
    assert document["object"]["size"] == len(BODIES[key]) and document["object"]["key"] == key
    (blob,) = document["blobs"]
    assert blob["size"] == len(BODIES[key]) and blob["replicas_wanted"] == 3
    assert len(blob["replicas"]) == 3
    addresses = {record.name: record.address for record in cluster.processes("datanode")}
    for replica in blob["replicas"]:
        assert replica["state"] == "present" and replica["size"] == len(BODIES[key])
        assert replica["address"] == addresses[replica["node_id"]]

    text = ok(admin(cluster, "object", "stat", BIG, key))
    assert f"size:              {len(BODIES[key])}" in text
    replica_lines = [line for line in text.splitlines() if line.startswith(blob["blob_id"])]
    assert len(replica_lines) == 3 and all(" present " in line and " 3/3 " in line for line in replica_lines)

    missing = admin(cluster, "object", "stat", BIG, "no-such-key")
    assert missing.returncode == 1 and "NO_SUCH_KEY" in missing.stderr
    no_bucket = admin(cluster, "object", "stat", "no-such-bucket", key)
    assert no_bucket.returncode == 1 and "NO_SUCH_BUCKET" in no_bucket.stderr


def _etcd_prefix(cluster: LocalCluster, prefix: str) -> dict[str, bytes]:
    async def read() -> dict[str, bytes]:
        client = await EtcdClient.connect(cluster.etcd)
        try:
            return dict(await client.get_prefix(prefix))
        finally:
            await client.close()

    return asyncio.run(read())


def test_config_export_import_round_trip(cluster: LocalCluster, tmp_path: Path) -> None:
    exported = tmp_path / "cluster.json"
    ok(admin(cluster, "config", "export", str(exported)))
    assert exported.stat().st_mode & 0o077 == 0, "the file holds secret keys"
    document: dict[str, Any] = json.loads(exported.read_text())
    assert "us-east-1" in document["locations"]
    assert document["authdata"]["accounts"] and document["shards"]["s1"]["replicas"] == 3

    # Into an empty cluster name on the same etcd, and back out: the same document.
    summary = json.loads(ok(admin(cluster, "config", "import", str(exported), "--cluster", "copy", "--json")))
    assert summary["shards_created"] == ["s1"] and summary["locations"] == len(document["locations"])
    again = tmp_path / "copy.json"
    ok(admin(cluster, "config", "export", str(again), "--cluster", "copy"))
    copied = json.loads(again.read_text())
    assert {**copied, "cluster": "local"} == document

    # Importing the same file again changes nothing; a file with another shard membership is
    # refused before anything is written.
    repeat = json.loads(ok(admin(cluster, "config", "import", str(exported), "--cluster", "copy", "--json")))
    assert repeat["shards_unchanged"] == ["s1"] and not repeat["accounts_added"]
    before = _etcd_prefix(cluster, Keyspace("copy").root)
    document["shards"]["s1"]["members"] = ["metanode-9"]
    document["locations"]["extra"] = {"type": "mem", "details": {}, "legacyAwsBehavior": False}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(document))
    refused = admin(cluster, "config", "import", str(bad), "--cluster", "copy")
    assert refused.returncode == 1 and "membership changes are not imported" in refused.stderr
    assert _etcd_prefix(cluster, Keyspace("copy").root) == before
    bad.write_text("{not json")
    broken = admin(cluster, "config", "import", str(bad), "--cluster", "copy")
    assert broken.returncode == 1 and "not valid JSON" in broken.stderr


def test_location_list_is_the_location_command(cluster: LocalCluster) -> None:
    listed = ok(admin(cluster, "location", "list"))
    names = [line.split()[0] for line in listed.splitlines()]
    assert "us-east-1" in names and names == sorted(names)
    document = json.loads(ok(admin(cluster, "location", "list", "--json")))
    assert sorted(document["locations"]) == names
    assert document["locations"]["us-east-1"]["type"] in ("file", "mem")


def test_repair_and_gc_json_summaries(cluster: LocalCluster) -> None:
    repaired = json.loads(ok(admin(cluster, "repair", "--json")))
    assert repaired["entries_remaining"] == 0 and repaired["remaining"] == 0
    collected = json.loads(ok(admin(cluster, "gc", "--json")))
    assert collected["remaining"] == 0


def _replicas(cluster: LocalCluster, bucket: str, keys: list[str]) -> dict[str, list[str]]:
    async def read() -> dict[str, list[str]]:
        client = MetadataClient(cluster.processes("metanode")[0].address)
        try:
            found = {}
            for key in keys:
                (blob,) = (await client.get_object(GetObjectRequest(bucket=bucket, key=key))).blobs
                found[key] = sorted(blob.replicas)
            return found
        finally:
            await client.close()

    return asyncio.run(read())


def _interrupted_drain(cluster: LocalCluster, node: str) -> None:
    """Starts ``node drain`` and kills it once it has marked the node (mid-pass, or just after)."""
    env = {name: value for name, value in os.environ.items() if name != "STRATA_ETCD"}
    command = [
        sys.executable,
        "-u",
        "-m",
        "strata.cli",
        "admin",
        "node",
        "drain",
        node,
        "--etcd",
        cluster.etcd,
    ]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env
    ) as drain:
        assert drain.stdout is not None
        first = drain.stdout.readline()
        drain.kill()
    assert first.startswith(f"{node} (us-east-1) draining"), first


def test_decommission_moves_everything_off_and_the_data_reads_back(cluster: LocalCluster) -> None:
    before = _replicas(cluster, BIG, list(BODIES))
    holders = [node for nodes in before.values() for node in nodes]
    victim = max(sorted(set(holders)), key=holders.count)

    _interrupted_drain(cluster, victim)
    # A drain killed mid-copy leaves that copy's intent open, and no pass copies that blob to the same
    # datanode again until the intent is collected: the operator's way on (no upload is running).
    ok(admin(cluster, "gc", "--expire-intents"))
    result = admin(cluster, "node", "decommission", victim)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith(f"{victim} (us-east-1) draining: new blobs go to ")
    assert lines[-1] == f"{victim}: removed from the membership; stop its process now"
    assert "shard s1 [" in result.stderr, "a progress bar on stderr"

    after = _replicas(cluster, BIG, list(BODIES))
    assert all(len(nodes) == 3 and victim not in nodes for nodes in after.values()), after
    assert _etcd_prefix(cluster, Keyspace("local").member("datanode", victim)) == {}

    # Re-running is safe and finds nothing more to move.
    rerun = json.loads(ok(admin(cluster, "node", "drain", victim, "--json")))
    assert rerun["blobs_left"] == 0 and rerun["blobs_copied"] == 0

    # While it still runs, new writes avoid the drained node (without the mark, 3 of the 4 nodes
    # would take each blob: all six missing it by chance is unlikely).
    s3 = s3_client(cluster.gateway_urls[0])
    fresh = [f"after-{index}" for index in range(6)]
    for key in fresh:
        s3.put_object(Bucket=SMALL, Key=key, Body=os.urandom(80_000))
    placed = _replicas(cluster, SMALL, fresh)
    assert all(len(nodes) == 3 and victim not in nodes for nodes in placed.values()), placed

    cluster.stop_process(victim, signal.SIGKILL)
    for key, body in BODIES.items():
        assert s3.get_object(Bucket=BIG, Key=key)["Body"].read() == body
    assert s3.get_object(Bucket=SMALL, Key="one")["Body"].read() == SMALL_BODY
    stat = json.loads(ok(admin(cluster, "object", "stat", BIG, "object-0", "--json")))
    assert [replica["state"] for replica in stat["blobs"][0]["replicas"]] == ["present"] * 3
