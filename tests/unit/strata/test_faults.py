"""Fault schedules and the shard-leader look-up, against a real etcd."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from strata.testing import faults as faults_module
from strata.testing.cluster import LocalCluster
from strata.testing.etcd import EtcdProcess
from strata.testing.faults import Faults, FaultSchedule, FaultStep, require_namespaces, shard_leader_node


@pytest.fixture(scope="module")
def etcd() -> Iterator[EtcdProcess]:
    with EtcdProcess() as process:
        yield process


async def test_shard_leader_is_the_node_id_in_the_leader_key(etcd: EtcdProcess) -> None:
    assert await shard_leader_node(etcd.endpoint, "s1", "faults") is None
    async with await EtcdClient.connect(etcd.endpoint) as client:
        await client.put(
            Keyspace("faults").shard_leader("s1"),
            json.dumps({"node_id": "metanode-2", "address": "127.0.0.1:1"}),
        )
    assert await shard_leader_node(etcd.endpoint, "s1", "faults") == "metanode-2"
    assert await shard_leader_node(etcd.endpoint, "s2", "faults") is None


def test_steps_without_a_target_or_past_the_end_are_skipped_and_said(tmp_path: Path) -> None:
    faults = Faults(LocalCluster(tmp_path))  # never started: no step may touch a process

    def nobody(cluster: LocalCluster) -> str | None:
        return None

    result = FaultSchedule([FaultStep("kill_restart", nobody, settle_s=0)]).run(faults)
    assert result.injected == []
    assert result.skipped == ["kill_restart nobody (0s): no such process now"]
    ended = FaultSchedule([FaultStep("pause", "datanode-1")]).run(faults, stop_at=time.monotonic() - 1)
    assert ended.skipped == ["pause datanode-1 (0s): the run ended"]
    assert faults.events == []


def test_without_namespaces_a_test_skips_locally_and_fails_under_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(faults_module, "namespaces_supported", lambda: "network namespaces need root")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="need root"):
        require_namespaces()
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="need root"):
        require_namespaces()


def test_corrupt_blob_flips_a_data_byte_of_a_stored_blob(tmp_path: Path) -> None:
    faults = Faults(LocalCluster(tmp_path))
    assert faults.corrupt_blob("datanode-1") is None  # holds nothing yet
    blob_id = "ab" * 16
    stored = tmp_path / "datanode-1" / blob_id[:2] / blob_id[2:4] / blob_id
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"\x10payload")
    (tmp_path / "datanode-1" / "tmp").mkdir()
    (tmp_path / "datanode-1" / "tmp" / f"{'cd' * 16}.1.tmp").write_bytes(b"being written")
    assert faults.corrupt_blob("datanode-1") == blob_id
    assert stored.read_bytes() == b"\xefpayload"
    assert [event.what for event in faults.events] == [f"corrupt blob {blob_id} on datanode-1"]
