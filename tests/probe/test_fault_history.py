"""Probe tests: a recorded workload through both gateways while real faults hit the cluster, then the
history checker (strata/testing/checker.py) and blob accounting decide.

The short run is in the default suite. The long randomized run needs ``STRATA_SLOW=1``
(``STRATA_FAULT_RUN_S`` sets its length, default 300 s; ``STRATA_FAULT_SEED`` replays a schedule).
Each run writes its history (``history.json``) and a summary next to the cluster's logs.
"""

from __future__ import annotations

import asyncio
import os
import random
import statistics
import time
from pathlib import Path

import pytest

from strata.localcluster import ClusterSpec
from strata.testing.blob_accounting import account_blobs, referenced_replicas
from strata.testing.checker import CheckReport, check_history, write_recovery_s
from strata.testing.cluster import LocalCluster
from strata.testing.faults import (
    Faults,
    FaultSchedule,
    FaultStep,
    ScheduleResult,
    any_of,
    etcd_leader_target,
    require_namespaces,
    shard_leader_target,
)
from strata.testing.history import History, Workload, WorkloadSpec

pytestmark = pytest.mark.cluster

LEASE_S = 5  # a node's registration lease (coordinator.registry.DEFAULT_TTL_S)
BEYOND_LEASE_S = LEASE_S + 3


def fault_cluster_spec(
    namespaced_roles: tuple[str, ...] = (), datanodes: int = 3, repair_grace_s: float = 600.0
) -> ClusterSpec:
    """3 datanodes (by default), 3 etcd members; datanode-3, etcd-3 and every metanode in namespaces
    (for partitions).

    The metanodes keep a short log, so a replica down for a few seconds comes back through a snapshot.
    """
    spec = ClusterSpec(
        gateway_base_port=None,
        datanodes=datanodes,
        etcd_members=3,
        repair_interval_s=5.0,
        repair_grace_s=repair_grace_s,
        metanode_args=["--log-retention", "50"],
    )
    metanodes = tuple(f"metanode-{index}" for index in range(1, spec.shards * spec.replicas + 1))
    spec.namespaced = ("datanode-3", "etcd-3", *metanodes, *namespaced_roles)
    return spec


def short_schedule() -> list[FaultStep]:
    return [
        FaultStep("kill_restart", "datanode-1", duration_s=2, settle_s=3),
        FaultStep("pause", "datanode-2", duration_s=BEYOND_LEASE_S, settle_s=3),
        FaultStep("kill_restart", etcd_leader_target(), duration_s=3, settle_s=2),
        FaultStep("partition", "datanode-3", duration_s=4, settle_s=2),
        FaultStep("partition", "etcd-3", duration_s=BEYOND_LEASE_S, settle_s=2),
        FaultStep("kill_restart", shard_leader_target(), duration_s=1, settle_s=3),
        FaultStep("pause", shard_leader_target(), duration_s=BEYOND_LEASE_S, settle_s=3),
        FaultStep("partition", shard_leader_target(), duration_s=5, settle_s=3),
    ]


# The long run: a 4th datanode, killed for good early in the run, so the coordinator's repair
# moves its blobs to the other three once it has been down LOST_GRACE_S.
LONG_RUN_DATANODES = 4
KILLED_FOR_GOOD = "datanode-4"
LOST_GRACE_S = 20.0
# Every SHARD_LEADER_KILL_EVERY-th step of the long run kills the shard's leader (kill -9, restart):
# a step takes 7-20 s with restarts, so a 300 s run gets at least 10 of them.
SHARD_LEADER_KILL_EVERY = 2


def random_schedule(rng: random.Random, steps: int, killed_for_good: str | None = None) -> list[FaultStep]:
    """A random mix of every fault kind (each entry of ``menu`` is one kind of fault): the first
    steps go through every kind once in a random order, then kinds are drawn at random; every
    SHARD_LEADER_KILL_EVERY-th step kills the shard leader, and ``killed_for_good`` (if any) is killed
    without a restart early in the run."""
    menu = [
        lambda: FaultStep("kill_restart", shard_leader_target(), duration_s=rng.uniform(0.5, 3)),
        lambda: FaultStep("pause", shard_leader_target(), duration_s=BEYOND_LEASE_S),
        lambda: FaultStep("partition", shard_leader_target(), duration_s=rng.uniform(3, 10)),
        lambda: FaultStep("kill_restart", any_of("metanode", rng), duration_s=rng.uniform(0.5, 3)),
        lambda: FaultStep("kill_restart", any_of("datanode", rng), duration_s=rng.uniform(0.5, 5)),
        lambda: FaultStep("pause", any_of("datanode", rng), duration_s=rng.choice([2, BEYOND_LEASE_S])),
        lambda: FaultStep("partition", "datanode-3", duration_s=rng.uniform(2, 8)),
        lambda: FaultStep("kill_restart", etcd_leader_target(), duration_s=rng.uniform(1, 4)),
        lambda: FaultStep("kill_restart", any_of("gateway", rng), duration_s=rng.uniform(0.5, 2)),
        lambda: FaultStep("corrupt", any_of("datanode", rng)),
    ]
    first_round = list(menu[1:])  # the shard-leader kill (menu[0]) comes every few steps anyway
    rng.shuffle(first_round)
    chosen = [
        menu[0]()
        if index % SHARD_LEADER_KILL_EVERY == SHARD_LEADER_KILL_EVERY - 1
        else (first_round.pop() if first_round else rng.choice(menu))()
        for index in range(steps)
    ]
    if killed_for_good is not None:
        # Early enough that its grace ends, and its blobs move, well inside the run.
        chosen.insert(max(1, steps // 10), FaultStep("kill", killed_for_good))
    return [
        FaultStep(step.action, step.target, step.duration_s, settle_s=rng.uniform(1, 4)) for step in chosen
    ]


def fault_kind(step: FaultStep) -> str:
    """The step without its duration: ``kill_restart leader of shard s1``, ``pause a datanode``, ..."""
    return step.describe().rsplit(" (", 1)[0]


def is_shard_leader_kill(step: FaultStep) -> bool:
    return step.action == "kill_restart" and getattr(step.target, "__name__", "").startswith(
        "leader of shard"
    )


def describe_recoveries(recoveries: list[tuple[str, float | None]]) -> str:
    times = sorted(seconds for _, seconds in recoveries if seconds is not None)
    if not times:
        return "no kills" if not recoveries else f"none after {len(recoveries)} kills"
    each = ", ".join(
        f"{what.removeprefix('kill -9 ')} {s:.2f}s" if s is not None else f"{what} never"
        for what, s in recoveries
    )
    return f"median {statistics.median(times):.2f}s, max {times[-1]:.2f}s ({each})"


def wait_for_evacuation(cluster: LocalCluster, buckets: list[str], node: str, timeout_s: float) -> str:
    """Waits (bounded) until no object records a replica on ``node`` (killed for good); says how it went."""
    started = time.monotonic()
    while True:
        left = sum(1 for holder, _ in asyncio.run(referenced_replicas(cluster, buckets)) if holder == node)
        if not left:
            return f"no replica left on {node} {time.monotonic() - started:.0f}s after the run"
        if time.monotonic() - started > timeout_s:
            return f"{left} replicas still recorded on {node} {timeout_s:.0f}s after the run"
        time.sleep(1)


def run_with_faults(
    cluster: LocalCluster,
    schedule: list[FaultStep],
    out: Path,
    max_s: float,
    workload_spec: WorkloadSpec,
    killed_for_good: str | None = None,
) -> tuple[History, CheckReport, ScheduleResult]:
    workload = Workload(cluster.gateway_urls, workload_spec)
    workload.prepare()
    faults = Faults(cluster)
    outcome = ScheduleResult()

    def inject(history: History) -> None:
        under_way = time.monotonic() + 30
        while (
            sum(op.outcome == "ok" for op in history.operations) < 50
        ):  # the first fault hits a busy cluster
            assert time.monotonic() < under_way, "the workload did not get going"
            time.sleep(0.1)
        result = FaultSchedule(schedule).run(faults, stop_at=time.monotonic() + max_s)
        outcome.injected.extend(result.injected)
        outcome.skipped.extend(result.skipped)
        outcome.injected_steps.extend(result.injected_steps)

    started = time.monotonic()
    try:
        history = workload.run(max_s + 60, during=inject, tail_s=5)
    finally:
        faults.heal()
        restarted = faults.start_all_stopped(keep_down=[killed_for_good] if killed_for_good else [])
    history.faults = [(event.at, event.what) for event in faults.events]
    history.faults.append((time.monotonic(), f"restarted at the end: {restarted}"))
    workload.abort_leftover_uploads()
    workload.read_final_state(history)
    history.save(out / "history.json")
    report = check_history(history)
    evacuation = ""
    if killed_for_good is not None and f"kill {killed_for_good}" in outcome.injected:
        evacuation = wait_for_evacuation(cluster, workload.buckets, killed_for_good, timeout_s=120)
    ignored = [killed_for_good] if killed_for_good else []
    blobs = asyncio.run(account_blobs(cluster, workload.buckets, ignore_nodes=ignored))
    summary = (
        f"{time.monotonic() - started:.0f}s: {report.summary()}\n"
        f"faults injected ({len(outcome.injected)}): {outcome.injected}\n"
        f"faults skipped ({len(outcome.skipped)}): {outcome.skipped}\n"
        f"503 answers: {report.service_unavailable}\nblobs: {blobs.summary()}\n"
        f"first acknowledged write after each kill -9: {describe_recoveries(write_recovery_s(history))}"
        + (f"\nkilled for good: {killed_for_good}; {evacuation}" if killed_for_good else "")
    )
    (out / "summary.txt").write_text(summary)
    print(summary)
    assert report.ok, summary
    assert blobs.ok, summary
    assert not evacuation or evacuation.startswith("no replica left"), summary
    return history, report, outcome


@pytest.mark.timeout(420)
# A stopped or cut-off node makes some requests answer 503 ServiceUnavailable (never 500).
@pytest.mark.allow_server_errors(503)
def test_workload_under_kills_pauses_and_partitions_loses_no_acknowledged_write(tmp_path: Path) -> None:
    require_namespaces()
    with LocalCluster(tmp_path / "cluster", fault_cluster_spec()) as cluster:
        _, report, outcome = run_with_faults(
            cluster, short_schedule(), tmp_path, max_s=90, workload_spec=WorkloadSpec(workers=6)
        )
    assert report.acknowledged_writes > 100
    assert {"kill_restart datanode-1", "pause datanode-2", "partition datanode-3", "partition etcd-3"} <= set(
        outcome.injected
    )
    assert any(fault.startswith("kill_restart etcd-") for fault in outcome.injected)


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("STRATA_SLOW") != "1", reason="the long randomized fault run needs STRATA_SLOW=1"
)
@pytest.mark.timeout(3600)
@pytest.mark.allow_server_errors(503)
def test_long_randomized_fault_run_loses_no_acknowledged_write(tmp_path: Path) -> None:
    require_namespaces()
    run_s = float(os.environ.get("STRATA_FAULT_RUN_S", "300"))
    seed = int(os.environ.get("STRATA_FAULT_SEED", str(random.randrange(2**31))))
    print(f"fault schedule seed {seed} (STRATA_FAULT_SEED={seed} replays it)")
    rng = random.Random(seed)
    schedule = random_schedule(rng, steps=int(run_s / 6) + 1, killed_for_good=KILLED_FOR_GOOD)
    spec = fault_cluster_spec(datanodes=LONG_RUN_DATANODES, repair_grace_s=LOST_GRACE_S)
    with LocalCluster(tmp_path / "cluster", spec) as cluster:
        _, report, outcome = run_with_faults(
            cluster,
            schedule,
            tmp_path,
            max_s=run_s,
            workload_spec=WorkloadSpec(workers=8, seed=seed),
            killed_for_good=KILLED_FOR_GOOD,
        )
    assert outcome.injected
    assert report.acknowledged_writes > 0
    assert f"kill {KILLED_FOR_GOOD}" in outcome.injected
    leader_kills = sum(1 for step in outcome.injected_steps if is_shard_leader_kill(step))
    print(f"shard leader kills: {leader_kills}")
    if run_s >= 300:
        assert leader_kills >= 10, outcome.injected
        every_kind = {fault_kind(step) for step in schedule}
        assert every_kind <= {fault_kind(step) for step in outcome.injected_steps}, outcome.skipped
