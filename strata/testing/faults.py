"""Real faults on a :class:`strata.testing.cluster.LocalCluster`, and a schedule to run them by.

    faults = Faults(cluster)
    faults.kill("datanode-1"); faults.start("datanode-1")     # kill -9, then the same process again
    with faults.paused("datanode-2", seconds=8): ...            # SIGSTOP, SIGCONT on leaving
    with faults.partitioned("metanode-1"): ...                  # its veth link down (ClusterSpec.namespaced)
    faults.corrupt_blob("datanode-3")                           # flips a byte of one stored blob
    faults.heal()                                               # every paused process resumed, every link up

Every fault injected is logged in :attr:`Faults.events` (monotonic time, description), which a
fault run reports. A :class:`FaultSchedule` is a list of :class:`FaultStep`; each step names a
target (a process name, or a resolver such as :func:`shard_leader_target` that finds it when the
step runs, and may find none: the step is then skipped and says why).
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import signal
import time
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from strata.localcluster import CLUSTER_NAME, is_alive
from strata.netns import LocalNetwork, NetworkError, namespaces_supported
from strata.testing.cluster import LocalCluster

_BLOB_NAME = re.compile(r"[0-9a-f]{32}")
DEFAULT_SHARD = "s1"


def require_namespaces() -> None:
    """Skips the calling test when network namespaces cannot be made here; under CI=true, fails it."""
    import pytest

    why_not = namespaces_supported()
    if why_not is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"{why_not}; CI must run the partition tests")
    pytest.skip(why_not)


@dataclass(frozen=True)
class FaultEvent:
    at: float  # time.monotonic()
    what: str


class Faults:
    """Injects faults into one running LocalCluster and undoes the ones that can be undone."""

    def __init__(self, cluster: LocalCluster) -> None:
        self.cluster = cluster
        self.events: list[FaultEvent] = []
        self._paused: set[str] = set()
        self._cut: set[str] = set()

    def _log(self, what: str, at: float | None = None) -> None:
        self.events.append(FaultEvent(at if at is not None else time.monotonic(), what))

    def _pid(self, name: str) -> int:
        for record in self.cluster.processes():
            if record.name == name:
                return record.pid
        raise KeyError(f"no process named {name}")

    # ---- processes --------------------------------------------------------------------------------------

    def kill(self, name: str) -> None:
        """kill -9, and waits until the process is gone."""
        at = time.monotonic()
        self.cluster.stop_process(name, signal.SIGKILL)
        self._log(f"kill -9 {name}", at)

    def start(self, name: str) -> None:
        """Starts a killed process again, same arguments, address and data; waits until it listens."""
        self.cluster.start_process(name)
        self._log(f"start {name}")

    def kill_and_restart(self, name: str) -> None:
        self.kill(name)
        self.start(name)

    def pause(self, name: str) -> None:
        os.kill(self._pid(name), signal.SIGSTOP)
        self._paused.add(name)
        self._log(f"SIGSTOP {name}")

    def resume(self, name: str) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self._pid(name), signal.SIGCONT)
        self._paused.discard(name)
        self._log(f"SIGCONT {name}")

    @contextlib.contextmanager
    def paused(self, name: str, seconds: float = 0.0) -> Iterator[None]:
        """SIGSTOPs ``name`` for the block (and at least ``seconds``), then SIGCONTs it."""
        self.pause(name)
        started = time.monotonic()
        try:
            yield
            remaining = seconds - (time.monotonic() - started)
            if remaining > 0:
                time.sleep(remaining)  # the fault's length is the point here, not a wait for a condition
        finally:
            self.resume(name)

    # ---- network ----------------------------------------------------------------------------------------

    def _network(self) -> LocalNetwork:
        state = self.cluster.launcher.state()
        if state is None or not state.network:
            raise NetworkError("the cluster runs in no namespaces: start it with ClusterSpec(namespaced=...)")
        return LocalNetwork.from_dict(state.network)

    def cut(self, name: str) -> None:
        """Isolates ``name``: its link to the cluster's bridge goes down (it keeps running)."""
        self._network().cut(name)
        self._cut.add(name)
        self._log(f"partition {name}")

    def restore(self, name: str) -> None:
        self._network().restore(name)
        self._cut.discard(name)
        self._log(f"heal partition {name}")

    @contextlib.contextmanager
    def partitioned(self, name: str, seconds: float = 0.0) -> Iterator[None]:
        self.cut(name)
        started = time.monotonic()
        try:
            yield
            remaining = seconds - (time.monotonic() - started)
            if remaining > 0:
                time.sleep(remaining)
        finally:
            self.restore(name)

    # ---- data -------------------------------------------------------------------------------------------

    def blob_files(self, datanode: str) -> list[Path]:
        """The complete blob files a datanode holds on disk."""
        root = Path(self.cluster.launcher.workdir) / datanode
        return sorted(path for path in root.rglob("*") if path.is_file() and _BLOB_NAME.fullmatch(path.name))

    def corrupt_blob(
        self, datanode: str, blob_id: str | None = None, rng: random.Random | None = None
    ) -> str | None:
        """Flips one byte of a stored blob's data (a random one unless ``blob_id``); returns its id, or None
        when the datanode holds no blob."""
        files = self.blob_files(datanode)
        if blob_id is not None:
            files = [path for path in files if path.name == blob_id]
        if not files:
            return None
        path = (rng or random).choice(files)
        with open(path, "r+b") as blob:
            # The data comes first in the file (checksums and footer after it): byte 0 is data.
            first = blob.read(1)
            blob.seek(0)
            blob.write(bytes([first[0] ^ 0xFF]) if first else b"\0")
            blob.flush()
            os.fsync(blob.fileno())
        self._log(f"corrupt blob {path.name} on {datanode}")
        return path.name

    # ---- undo -------------------------------------------------------------------------------------------

    def heal(self) -> None:
        """Resumes every paused process and restores every cut link (killed processes stay down)."""
        for name in sorted(self._paused):
            self.resume(name)
        for name in sorted(self._cut):
            self.restore(name)

    def start_all_stopped(self, keep_down: Iterable[str] = ()) -> list[str]:
        """Starts every process of the cluster that is not running (but those in ``keep_down``, e.g. a
        node killed for good); returns their names."""
        kept_down = set(keep_down)
        started = []
        for record in self.cluster.processes():
            if not is_alive(record.pid) and record.name not in kept_down:
                self.start(record.name)
                started.append(record.name)
        return started


# ---- etcd look-ups ----------------------------------------------------------------------------------------


async def shard_leader_node(
    etcd: str, shard_id: str = DEFAULT_SHARD, cluster: str = CLUSTER_NAME
) -> str | None:
    """The ``node_id`` in the shard's leader key (``shards/<id>/leader``), or None when there is no such key."""
    from coordinator.etcd import EtcdClient
    from coordinator.keyspace import Keyspace

    client = await EtcdClient.connect(etcd, request_timeout_s=5.0)
    try:
        item = await client.leader(Keyspace(cluster).shard_leader(shard_id))
    finally:
        await client.close()
    if item is None:
        return None
    node_id = json.loads(item.value).get("node_id")
    return str(node_id) if node_id else None


def shard_leader_name(cluster: LocalCluster, shard_id: str = DEFAULT_SHARD) -> str | None:
    """The process name of the shard's current leader (the leader key's ``node_id`` is the LocalCluster
    process name), or None when the shard has no leader key (no replication, or between leaders)."""
    return cluster.shard_leader(shard_id)


def etcd_leader_name(cluster: LocalCluster) -> str | None:
    """The process name of the etcd member that is raft leader now, asked of the running members."""
    members: dict[str, str] = {}
    leader = ""
    for record in cluster.processes("etcd"):
        if not is_alive(record.pid):
            continue
        request = urllib.request.Request(
            f"http://{record.address}/v3/maintenance/status", data=b"{}", method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=2) as response:
                status = json.loads(response.read())
        except (OSError, ValueError):
            continue
        members[str(status["header"]["member_id"])] = record.name
        leader = str(status.get("leader") or leader)
    return members.get(leader)


# ---- schedules --------------------------------------------------------------------------------------------

# A target resolver: the process a step acts on, or None (and the step is skipped).
Target = str | Callable[[LocalCluster], str | None]


def shard_leader_target(shard_id: str = DEFAULT_SHARD) -> Callable[[LocalCluster], str | None]:
    def resolve(cluster: LocalCluster) -> str | None:
        return shard_leader_name(cluster, shard_id)

    resolve.__name__ = f"leader of shard {shard_id}"
    return resolve


def etcd_leader_target() -> Callable[[LocalCluster], str | None]:
    def resolve(cluster: LocalCluster) -> str | None:
        return etcd_leader_name(cluster)

    resolve.__name__ = "the etcd leader"
    return resolve


def any_of(role: str, rng: random.Random | None = None) -> Callable[[LocalCluster], str | None]:
    """A running process of ``role`` chosen at random when the step runs."""

    def resolve(cluster: LocalCluster) -> str | None:
        running = [record.name for record in cluster.processes(role) if is_alive(record.pid)]
        return (rng or random).choice(running) if running else None

    resolve.__name__ = f"a {role}"
    return resolve


@dataclass(frozen=True)
class FaultStep:
    """One fault: ``action`` on ``target`` for ``duration_s``, then ``settle_s`` of calm before the next.

    Actions: ``kill_restart`` (kill -9, start again after ``duration_s``), ``kill`` (stays down),
    ``pause`` (SIGSTOP for ``duration_s``), ``partition`` (link down for ``duration_s``; the target must be
    namespaced), ``corrupt`` (one blob byte flipped on the target datanode).
    """

    action: str
    target: Target
    duration_s: float = 0.0
    settle_s: float = 2.0

    def target_name(self, cluster: LocalCluster) -> str | None:
        return self.target if isinstance(self.target, str) else self.target(cluster)

    def describe(self) -> str:
        target = self.target if isinstance(self.target, str) else self.target.__name__
        return f"{self.action} {target} ({self.duration_s:g}s)"


@dataclass
class ScheduleResult:
    injected: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    injected_steps: list[FaultStep] = field(default_factory=list)  # the steps behind ``injected``


class FaultSchedule:
    def __init__(self, steps: list[FaultStep]) -> None:
        self.steps = steps

    def run(self, faults: Faults, stop_at: float | None = None) -> ScheduleResult:
        """Runs the steps in order (until ``stop_at``, monotonic); heals what it did before returning."""
        result = ScheduleResult()
        try:
            for step in self.steps:
                if stop_at is not None and time.monotonic() >= stop_at:
                    result.skipped.append(f"{step.describe()}: the run ended")
                    continue
                name = step.target_name(faults.cluster)
                if name is None:
                    result.skipped.append(f"{step.describe()}: no such process now")
                    continue
                try:
                    _run_step(faults, step, name)
                except NetworkError as error:  # e.g. a partition of a process that has no namespace
                    result.skipped.append(f"{step.describe()}: {error}")
                    continue
                result.injected.append(f"{step.action} {name}")
                result.injected_steps.append(step)
                time.sleep(step.settle_s)  # calm between faults, so the workload sees both
        finally:
            faults.heal()
        return result


def _run_step(faults: Faults, step: FaultStep, name: str) -> None:
    if step.action == "kill_restart":
        faults.kill(name)
        time.sleep(step.duration_s)
        faults.start(name)
    elif step.action == "kill":
        faults.kill(name)
    elif step.action == "pause":
        with faults.paused(name, step.duration_s):
            pass
    elif step.action == "partition":
        with faults.partitioned(name, step.duration_s):
            pass
    elif step.action == "corrupt":
        faults.corrupt_blob(name)
    else:
        raise ValueError(f"unknown fault action {step.action!r}")
