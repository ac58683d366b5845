"""A real multi-process Strata cluster on 127.0.0.1: etcd, metanodes, datanodes, coordinator, gateways.

Every process is a separate OS process started detached, with its log under
``<workdir>/logs`` and its state under ``<workdir>/<role-id>``; what was started
is recorded in ``<workdir>/cluster.json`` so ``status`` and ``down`` work from
another command. ``strata cluster up|status|down`` and ``strata.testing.LocalCluster``
both use this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from strata.netns import LocalNetwork
from strata.runtime.errors import StartupError
from strata.settings import load_certificates
from strata.testing.etcd import find_etcd_binary

STATE_FILE = "cluster.json"
CLUSTER_NAME = "local"


class ClusterError(StartupError):
    """The cluster could not be started or reached; the message says why."""


@dataclass
class ProcessRecord:
    role: str  # etcd, metanode, datanode, coordinator, gateway
    name: str  # e.g. datanode-2
    pid: int
    address: str  # host:port (gateways: http://host:port)
    log: str
    argv: list[str] = field(default_factory=list)  # how to start it again
    port: int = 0
    metrics_port: int = 0  # its /metrics, /live, /ready (0: none, e.g. etcd)


@dataclass
class ClusterState:
    workdir: str
    etcd: str = ""
    processes: list[ProcessRecord] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    network: dict[str, Any] = field(default_factory=dict)  # LocalNetwork.to_dict() when namespaced

    def save(self) -> None:
        path = Path(self.workdir) / STATE_FILE
        path.write_text(
            json.dumps(
                {
                    "workdir": self.workdir,
                    "etcd": self.etcd,
                    "processes": [asdict(p) for p in self.processes],
                    "extra_env": self.extra_env,
                    "network": self.network,
                },
                indent=2,
            )
        )

    @classmethod
    def load(cls, workdir: Path) -> ClusterState | None:
        path = workdir / STATE_FILE
        if not path.exists():
            return None
        raw = json.loads(path.read_text())
        return cls(
            raw["workdir"],
            raw.get("etcd", ""),
            [ProcessRecord(**p) for p in raw["processes"]],
            raw.get("extra_env", {}),
            raw.get("network", {}),
        )


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def pick_port(preferred: int | None, taken: set[int]) -> int:
    if preferred and preferred not in taken and port_is_free(preferred):
        taken.add(preferred)
        return preferred
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind(("127.0.0.1", 0))
            port = int(sock.getsockname()[1])
        if port not in taken:
            taken.add(port)
            return port


def is_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child still answers kill(0); ask the kernel for its state.
    with contextlib.suppress(OSError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] != "Z"
    return True


def is_stopped(pid: int) -> bool:
    """True if the process is stopped by a signal (SIGSTOP): alive, but running nothing until SIGCONT."""
    with contextlib.suppress(OSError, IndexError):
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.rsplit(")", 1)[1].split()[0] in ("T", "t")
    return False


def process_state(pid: int) -> str:
    """``running``, ``stopped`` (by SIGSTOP) or ``dead``."""
    if not is_alive(pid):
        return "dead"
    return "stopped" if is_stopped(pid) else "running"


def _terminate(pid: int, kill_signal: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, kill_signal)
        if kill_signal != signal.SIGKILL:
            # A stopped process handles nothing but SIGKILL until it is continued.
            os.kill(pid, signal.SIGCONT)


def _wait_tcp(
    host: str, port: int, timeout: float, proc: subprocess.Popen[bytes], name: str, log: Path
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise ClusterError(f"{name} exited with status {proc.returncode}:\n{tail}")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex((host, port)) == 0:
                return
        time.sleep(0.05)
    raise ClusterError(f"{name} did not listen on {host}:{port} within {timeout:.0f}s (log: {log})")


def _wait_http(url: str, timeout: float) -> None:
    # Readiness probe of our own process on loopback: its certificate need not be trusted here.
    probe_tls = ssl._create_unverified_context() if url.startswith("https:") else None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(urllib.error.URLError, OSError):
            with urllib.request.urlopen(url, timeout=1, context=probe_tls) as response:
                if response.status == 200:
                    return
        time.sleep(0.1)
    raise ClusterError(f"{url} did not become ready within {timeout:.0f}s")


@dataclass
class ClusterSpec:
    shards: int = 1
    replicas: int = 3  # metanodes per shard
    datanodes: int = 3
    coordinators: int = 1
    gateways: int = 2
    gateway_base_port: int | None = 8000  # gateway N listens on base + N - 1; None or 0: free ports
    gc_interval_s: float = 10.0
    intent_ttl_s: float = 3600.0
    gc_grace_s: float = 300.0
    repair_interval_s: float = 30.0  # the coordinator's repair rounds
    repair_grace_s: float = 600.0  # how long a datanode may be down before its blobs move
    extra_env: dict[str, str] = field(default_factory=dict)
    metanode_args: list[str] = field(default_factory=list)  # e.g. ["--log-retention", "100"]
    etcd_members: int = 1  # 1, or 3 for a cluster that survives the loss of one member
    # Processes (e.g. "metanode-2", "etcd-3") run in network namespaces of their own, so that
    # strata.testing.faults can cut them off; the cluster then runs on a private bridge (strata.netns).
    namespaced: tuple[str, ...] = ()
    # A locationConfig.json document stored in etcd at start; each external location in it gets
    # ``relays`` stateless datanodes (``datanode-<location>-<n>``) that serve it.
    locations: dict[str, dict[str, Any]] | None = None
    relays: int = 2
    metrics_ports: bool = True  # every Strata process serves /metrics, /live, /ready on a port of its own


def relay_names(spec: ClusterSpec) -> list[str]:
    """The datanodes relaying to the spec's external locations."""
    from datanode.backends.remote import is_remote

    names: list[str] = []
    for location, config in sorted((spec.locations or {}).items()):
        if is_remote(str(config.get("type", ""))):
            names.extend(f"datanode-{location}-{index}" for index in range(1, spec.relays + 1))
    return names


def etcd_member_names(members: int) -> list[str]:
    return ["etcd"] if members == 1 else [f"etcd-{index}" for index in range(1, members + 1)]


def planned_names(spec: ClusterSpec) -> list[str]:
    return [
        *etcd_member_names(spec.etcd_members),
        *(f"datanode-{index}" for index in range(1, spec.datanodes + 1)),
        *relay_names(spec),
        *(f"metanode-{index}" for index in range(1, spec.shards * spec.replicas + 1)),
        *(f"coordinator-{index}" for index in range(1, spec.coordinators + 1)),
        *(f"gateway-{index}" for index in range(1, spec.gateways + 1)),
    ]


class LocalClusterLauncher:
    """Starts and stops the processes of one local cluster rooted at ``workdir``."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir.resolve()
        self._metrics_ports = True
        self._wave_waits: list[Callable[[], None]] | None = None
        self._taken: set[int] = set()  # every port handed out by this launcher

    def state(self) -> ClusterState | None:
        return ClusterState.load(self.workdir)

    def _spawn(
        self,
        state: ClusterState,
        role: str,
        name: str,
        argv: list[str],
        port: int,
        address: str,
        env: dict[str, str],
    ) -> subprocess.Popen[bytes]:
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        log_path = logs / f"{name}.log"
        network = LocalNetwork.from_dict(state.network) if state.network else None
        argv, metrics_port = self._with_metrics_port(state, role, name, argv)
        with open(log_path, "ab") as log_file:
            proc = subprocess.Popen(
                [*network.exec_prefix(name), *argv] if network else argv,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=self.workdir,
                env=env,
                start_new_session=True,
            )
        record = ProcessRecord(role, name, proc.pid, address, str(log_path), argv, port, metrics_port)
        names = [p.name for p in state.processes]
        if name in names:  # a restart keeps its place (down stops in reverse start order)
            state.processes[names.index(name)] = record
        else:
            state.processes.append(record)
        state.save()
        host = network.host_of(name) if network else "127.0.0.1"

        def listening() -> None:
            _wait_tcp(host, port, 30.0, proc, name, log_path)
            if metrics_port:
                _wait_tcp(host, metrics_port, 30.0, proc, f"{name}'s metrics port", log_path)

        if self._wave_waits is not None:
            self._wave_waits.append(listening)
        else:
            listening()
        return proc

    @contextlib.contextmanager
    def _wave(self) -> Iterator[None]:
        """Processes spawned inside start side by side; the wave ends once every one listens.

        Each process spends its first second importing: started one after the other, a cluster of
        ten takes ten seconds before it does anything else.
        """
        self._wave_waits = []
        try:
            yield
            for listening in self._wave_waits:
                listening()
        finally:
            self._wave_waits = None

    # ---- metrics ----
    METRICS_FLAG = "--metrics-listen"

    def _with_metrics_port(
        self, state: ClusterState, role: str, name: str, argv: list[str]
    ) -> tuple[list[str], int]:
        """``argv`` with a metrics port of its own (kept across restarts), and that port."""
        if self.METRICS_FLAG in argv:
            return argv, int(argv[argv.index(self.METRICS_FLAG) + 1].rpartition(":")[2])
        if role == "etcd" or not self._metrics_ports:
            return argv, 0
        # Ports picked for processes of this wave that do not listen yet count as taken too.
        taken = {p.port for p in state.processes} | {p.metrics_port for p in state.processes} | self._taken
        port = pick_port(None, taken)
        self._taken.add(port)
        return [*argv, self.METRICS_FLAG, f"{self._host(state, name)}:{port}"], port

    def _record(self, name: str) -> tuple[ClusterState, ProcessRecord]:
        state = self.state()
        record = next((p for p in state.processes if p.name == name), None) if state else None
        if state is None or record is None:
            raise ClusterError(f"no process named {name} in {self.workdir}")
        return state, record

    def stop_process(self, name: str, kill_signal: int = signal.SIGTERM) -> None:
        """Stops one process (SIGTERM: a graceful stop; SIGKILL: a crash) and waits until it is gone."""
        _, record = self._record(name)
        if is_alive(record.pid):
            _terminate(record.pid, kill_signal)
            self._reap(record.pid, 15.0)

    def signal_process(self, name: str, signum: int) -> ProcessRecord:
        """Sends one process a signal for fault testing; returns once it took effect.

        SIGKILL and SIGTERM: until the process is gone; SIGSTOP: until it is stopped (it stays in
        the state file, so ``restart`` and ``down`` still work); SIGCONT: until it runs again.
        """
        _, record = self._record(name)
        if not is_alive(record.pid):
            raise ClusterError(f"{name} is not running (pid {record.pid} is gone)")
        if signum in (signal.SIGKILL, signal.SIGTERM):
            _terminate(record.pid, signum)
            self._reap(record.pid, 15.0)
            return record
        with contextlib.suppress(ProcessLookupError):
            os.kill(record.pid, signum)
        deadline = time.monotonic() + 5.0
        while is_alive(record.pid) and is_stopped(record.pid) != (signum == signal.SIGSTOP):
            if time.monotonic() > deadline:
                raise ClusterError(
                    f"{name} (pid {record.pid}) did not take signal {signal.Signals(signum).name}"
                )
            time.sleep(0.01)
        return record

    def start_process(self, name: str) -> ProcessRecord:
        """Starts a stopped process again with the same arguments, address and data."""
        state, record = self._record(name)
        if is_alive(record.pid):
            raise ClusterError(f"{name} is already running (pid {record.pid})")
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **state.extra_env}
        self._spawn(state, record.role, name, record.argv, record.port, record.address, env)
        if record.role == "gateway":
            _wait_http(f"{record.address}/_/healthcheck", 30.0)
        return next(p for p in state.processes if p.name == name)

    def restart(self, name: str, kill_signal: int = signal.SIGKILL) -> ProcessRecord:
        """Stops one process (SIGKILL by default: a crash) and starts it again with the same arguments."""
        self.stop_process(name, kill_signal)
        return self.start_process(name)

    def up(self, spec: ClusterSpec) -> ClusterState:
        existing = self.state()
        if existing and any(is_alive(p.pid) for p in existing.processes):
            raise ClusterError(f"a cluster is already running from {self.workdir}; run 'strata cluster down'")
        self.workdir.mkdir(parents=True, exist_ok=True)
        find_etcd_binary()  # fails early with the install hint
        extra_env = dict(spec.extra_env)
        # encryption at rest: the gateways share one key directory
        extra_env.setdefault("STRATA_KMS_DIR", str(self.workdir / "kms"))
        state = ClusterState(str(self.workdir), extra_env=extra_env)
        self._metrics_ports = spec.metrics_ports
        taken = self._taken
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **extra_env}
        env.pop("STRATA_JSON_LOGS", None)
        strata = [sys.executable, "-m", "strata.cli"]
        scheme = "https" if load_certificates(env) else "http"
        unknown = sorted(set(spec.namespaced) - set(planned_names(spec)))
        if unknown:
            raise ClusterError(f"no process to place in a namespace named {', '.join(unknown)}")
        if spec.namespaced:
            state.network = LocalNetwork.create(list(spec.namespaced)).to_dict()
            state.save()  # so that down() removes the network whatever fails next

        def host(name: str) -> str:
            return LocalNetwork.from_dict(state.network).host_of(name) if state.network else "127.0.0.1"

        try:
            self._start_etcd(state, spec.etcd_members, taken, env)
            common = ["--etcd", state.etcd, "--cluster", CLUSTER_NAME]
            if spec.locations is not None:
                self._import_locations(state, spec.locations, strata, env)
            # Waves, each started side by side: the data with each shard's first metanode (the shard's
            # first in-sync replica, so its leader: tests and people find metanode-1 leading), the
            # other metanodes, then the coordinators and gateways.
            first_replicas = range(1, spec.shards * spec.replicas + 1, spec.replicas)
            with self._wave():
                for name in relay_names(spec):
                    assert spec.locations is not None
                    location = name[len("datanode-") :].rsplit("-", 1)[0]
                    port = pick_port(None, taken)
                    argv = [
                        *strata,
                        "datanode",
                        *common,
                        "--node-id",
                        name,
                        "--listen",
                        f"{host(name)}:{port}",
                    ]
                    location_type = str(spec.locations[location]["type"])
                    argv += ["--location", location, "--type", location_type]
                    self._spawn(state, "datanode", name, argv, port, f"{host(name)}:{port}", env)
                for index in range(1, spec.datanodes + 1):
                    port = pick_port(None, taken)
                    name = f"datanode-{index}"
                    self._spawn(
                        state,
                        "datanode",
                        name,
                        [
                            *strata,
                            "datanode",
                            *common,
                            "--node-id",
                            name,
                            "--listen",
                            f"{host(name)}:{port}",
                            "--data-dir",
                            str(self.workdir / name),
                            "--location",
                            "us-east-1",
                        ],
                        port,
                        f"{host(name)}:{port}",
                        env,
                    )
                for index in first_replicas:
                    shard = f"s{(index - 1) // spec.replicas + 1}"
                    self._spawn_metanode(state, spec, f"metanode-{index}", shard, common, taken, env)
            with self._wave():
                for index in range(1, spec.shards * spec.replicas + 1):
                    if index not in first_replicas:
                        shard = f"s{(index - 1) // spec.replicas + 1}"
                        self._spawn_metanode(state, spec, f"metanode-{index}", shard, common, taken, env)
            with self._wave():
                for index in range(1, spec.coordinators + 1):
                    self._spawn_coordinator(state, spec, f"coordinator-{index}", taken, common, env)
                gateway_urls = self._spawn_gateways(state, spec, strata, common, taken, env, scheme, host)
            for url in gateway_urls:
                _wait_http(f"{url}/_/healthcheck", 30.0)
        except BaseException:
            self.down()
            raise
        return state

    def _spawn_gateways(
        self,
        state: ClusterState,
        spec: ClusterSpec,
        strata: list[str],
        common: list[str],
        taken: set[int],
        env: dict[str, str],
        scheme: str,
        host: Callable[[str], str],
    ) -> list[str]:
        """Starts the gateways; returns their URLs."""
        urls = []
        for index in range(1, spec.gateways + 1):
            name = f"gateway-{index}"
            if spec.gateway_base_port:
                port = spec.gateway_base_port + index - 1
                if port > 65535 or port in taken or not port_is_free(port):
                    raise ClusterError(
                        f"port {port} for {name} is taken; choose other gateway ports with --port-base"
                    )
                taken.add(port)
            else:
                port = pick_port(None, taken)
            self._spawn(
                state,
                "gateway",
                name,
                [
                    *strata,
                    "gateway",
                    *common,
                    "--node-id",
                    name,
                    "--host",
                    host(name),
                    "--port",
                    str(port),
                    "--intent-ttl",
                    str(spec.intent_ttl_s),
                ],
                port,
                f"{scheme}://{host(name)}:{port}",
                env,
            )
            urls.append(f"{scheme}://{host(name)}:{port}")
        return urls

    def _import_locations(
        self, state: ClusterState, locations: Mapping[str, Any], strata: list[str], env: dict[str, str]
    ) -> None:
        """Stores the location config in etcd (``strata config import``), before any node reads it."""
        path = self.workdir / "locationConfig.json"
        path.write_text(json.dumps(locations, indent=2))
        path.chmod(0o600)  # it may hold a cloud's credentials
        command = [*strata, "config", "import", "--etcd", state.etcd, "--cluster", CLUSTER_NAME]
        result = subprocess.run(
            [*command, "--locations", str(path)], env=env, capture_output=True, text=True, timeout=60
        )
        if result.returncode != 0:
            raise ClusterError(f"the location config was refused: {result.stderr.strip()}")

    def _start_etcd(self, state: ClusterState, members: int, taken: set[int], env: dict[str, str]) -> None:
        """One etcd member, or several forming one cluster; every role is given all of their endpoints."""
        if members < 1 or members % 2 == 0:
            raise ClusterError(f"etcd needs an odd number of members (1 or 3), not {members}")
        network = LocalNetwork.from_dict(state.network) if state.network else None
        names = etcd_member_names(members)
        hosts = {name: network.host_of(name) if network else "127.0.0.1" for name in names}
        ports = {name: (pick_port(None, taken), pick_port(None, taken)) for name in names}
        single = members == 1
        member_names = {name: "strata-etcd" if single else name for name in names}
        initial_cluster = ",".join(
            f"{member_names[name]}=http://{hosts[name]}:{ports[name][1]}" for name in names
        )
        state.etcd = ",".join(f"{hosts[name]}:{ports[name][0]}" for name in names)
        for name in names:
            client_port, peer_port = ports[name]
            # A member listens before its peers are up; the cluster is ready once one answers healthy.
            self._spawn(
                state,
                "etcd",
                name,
                [
                    find_etcd_binary(),
                    "--name",
                    member_names[name],
                    "--data-dir",
                    str(self.workdir / name),
                    "--listen-client-urls",
                    f"http://{hosts[name]}:{client_port}",
                    "--advertise-client-urls",
                    f"http://{hosts[name]}:{client_port}",
                    "--listen-peer-urls",
                    f"http://{hosts[name]}:{peer_port}",
                    "--initial-advertise-peer-urls",
                    f"http://{hosts[name]}:{peer_port}",
                    "--initial-cluster",
                    initial_cluster,
                    "--initial-cluster-state",
                    "new",
                    "--heartbeat-interval",
                    "50",
                    "--election-timeout",
                    "500",
                ],
                client_port,
                f"{hosts[name]}:{client_port}",
                env,
            )
        for name in names:
            _wait_http(f"http://{hosts[name]}:{ports[name][0]}/health", 30.0)

    def _spawn_metanode(
        self,
        state: ClusterState,
        spec: ClusterSpec,
        name: str,
        shard: str,
        common: list[str],
        taken: set[int],
        env: dict[str, str],
    ) -> None:
        port = pick_port(None, taken)
        self._spawn(
            state,
            "metanode",
            name,
            [
                sys.executable, "-m", "strata.cli", "metanode", *common,
                "--node-id", name,
                "--listen", f"{self._host(state, name)}:{port}",
                "--data-dir", str(self.workdir / name),
                "--shard", shard,
                "--replicas", str(spec.replicas),
                "--gc-interval", str(spec.gc_interval_s),
                "--intent-ttl", str(spec.intent_ttl_s),
                "--gc-grace", str(spec.gc_grace_s),
                *spec.metanode_args,
            ],
            port,
            f"{self._host(state, name)}:{port}",
            env,
        )  # fmt: skip

    def _spawn_coordinator(
        self,
        state: ClusterState,
        spec: ClusterSpec,
        name: str,
        taken: set[int],
        common: list[str],
        env: dict[str, str],
    ) -> None:
        port = pick_port(None, taken)
        argv = [sys.executable, "-m", "strata.cli", "coordinator", *common, "--node-id", name]
        argv += [
            "--listen",
            f"{self._host(state, name)}:{port}",
            "--repair-interval",
            str(spec.repair_interval_s),
        ]
        argv += ["--repair-grace", str(spec.repair_grace_s)]
        self._spawn(state, "coordinator", name, argv, port, f"{self._host(state, name)}:{port}", env)

    @staticmethod
    def _host(state: ClusterState, name: str) -> str:
        """The address ``name`` listens on: 127.0.0.1, or its own when the cluster runs on a bridge."""
        return LocalNetwork.from_dict(state.network).host_of(name) if state.network else "127.0.0.1"

    def add_shard(self, spec: ClusterSpec) -> str:
        """Starts ``spec.replicas`` metanodes of a new shard in the running cluster; returns its id.

        New buckets go to the shard holding the fewest, so the next ones land on it.
        """
        state = self.state()
        if state is None or not any(is_alive(p.pid) for p in state.processes):
            raise ClusterError(f"no cluster is running from {self.workdir}; run 'strata cluster up'")
        metanodes = [p for p in state.processes if p.role == "metanode"]
        shards = {p.argv[p.argv.index("--shard") + 1] for p in metanodes if "--shard" in p.argv}
        shard = f"s{max((int(s[1:]) for s in shards if s[1:].isdigit()), default=0) + 1}"
        taken = {p.port for p in state.processes}
        self._metrics_ports = spec.metrics_ports
        env = {**os.environ, "PYTHONUNBUFFERED": "1", **state.extra_env}
        env.pop("STRATA_JSON_LOGS", None)
        common = ["--etcd", state.etcd, "--cluster", CLUSTER_NAME]
        first = len(metanodes) + 1
        for index in range(first, first + spec.replicas):
            self._spawn_metanode(state, spec, f"metanode-{index}", shard, common, taken, env)
        return shard

    def down(self, grace_s: float = 15.0) -> tuple[list[ProcessRecord], list[ProcessRecord]]:
        """Stops every process; returns (those it stopped, those that were not running)."""
        state = self.state()
        if state is None:
            return [], []
        stopped: list[ProcessRecord] = []
        not_running: list[ProcessRecord] = []
        # Continue every stopped process first: a frozen etcd would stall the others' graceful stop.
        for record in state.processes:
            if is_stopped(record.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(record.pid, signal.SIGCONT)
        # Gateways first, etcd last: the reverse of start-up.
        for record in reversed(state.processes):
            if is_alive(record.pid):
                _terminate(record.pid, signal.SIGTERM)
                self._reap(record.pid, grace_s)
                stopped.append(record)
            else:
                not_running.append(record)
        if state.network:
            LocalNetwork.from_dict(state.network).destroy()
        (self.workdir / STATE_FILE).unlink(missing_ok=True)
        return stopped, not_running

    @staticmethod
    def _reap(pid: int, grace_s: float) -> None:
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline:
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not is_alive(pid):
                return
            time.sleep(0.05)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)

    def status_lines(self) -> list[str]:
        state = self.state()
        if state is None:
            return []
        lines = []
        for record in state.processes:
            alive = process_state(record.pid)
            metrics = f"metrics={record.metrics_port} " if record.metrics_port else ""
            lines.append(
                f"{record.role:<9} {record.name:<11} pid={record.pid:<8} {record.address:<24} {metrics}{alive}"
            )
        return lines
