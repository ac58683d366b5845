"""``LocalCluster``: a real process cluster (etcd, metanode, datanodes, gateways) for integration suites.

with LocalCluster(tmp_path) as cluster:
    s3 = cluster.boto3_client()  # or boto3.client("s3", endpoint_url=cluster.gateway_urls[0], ...)

It offers ``strata.testing.running.RunningStrata``: ``endpoint_url`` (the first gateway),
``credentials``, ``boto3_client()``, ``stop()``, and the context manager.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Self

if TYPE_CHECKING:
    from coordinator.shards import ShardProgress, ShardState

from strata.localcluster import CLUSTER_NAME, ClusterSpec, ClusterState, LocalClusterLauncher, ProcessRecord
from strata.testing.running import Credentials, RunningStrataBase


class LocalCluster(RunningStrataBase):
    def __init__(self, workdir: Path | None = None, spec: ClusterSpec | None = None) -> None:
        """``workdir``: where every process keeps its state and log (None: a temporary directory,
        removed by :meth:`stop`)."""
        self._own_workdir = workdir is None
        self.workdir = (
            Path(workdir) if workdir is not None else Path(tempfile.mkdtemp(prefix="strata-cluster-"))
        )
        self.launcher = LocalClusterLauncher(self.workdir)
        self.spec = spec or ClusterSpec(gateway_base_port=None)
        self.state: ClusterState | None = None

    def start(self) -> Self:
        self.state = self.launcher.up(self.spec)
        self._watch_logs()
        return self

    @property
    def endpoint_url(self) -> str:
        """The first gateway's URL (every gateway serves the same buckets)."""
        urls = self.gateway_urls if self.state is not None else []
        if not urls:
            raise RuntimeError("the cluster is not running or has no gateway")
        return urls[0]

    @property
    def credentials(self) -> Credentials:
        """The pair the gateways accept: they inherit this process's environment and ``spec.extra_env``."""
        return Credentials.from_environment({**os.environ, **self.spec.extra_env})

    def _watch_logs(self) -> None:
        """Lets the pytest plugin (when it is loaded) check every process's log for 5xx and tracebacks."""
        plugin = sys.modules.get("strata.testing.pytest_plugin")
        if plugin is not None and self.state is not None:
            for record in self.state.processes:
                plugin.watch_log_file(record.log)

    def stop(self) -> None:
        self.launcher.down()
        if self._own_workdir:
            plugin = sys.modules.get("strata.testing.pytest_plugin")
            if plugin is not None:
                plugin.scan_watched_logs()  # before the logs go with the directory
            shutil.rmtree(self.workdir, ignore_errors=True)

    def processes(self, role: str | None = None) -> list[ProcessRecord]:
        assert self.state is not None
        return [p for p in self.state.processes if role is None or p.role == role]

    @property
    def etcd(self) -> str:
        assert self.state is not None
        return self.state.etcd

    @property
    def gateway_urls(self) -> list[str]:
        return [p.address for p in self.processes("gateway")]

    def restart(self, name: str, signum: int = signal.SIGKILL) -> ProcessRecord:
        """Kills one process (SIGKILL: a crash) and starts it again on the same address and data."""
        record = self.launcher.restart(name, signum)
        self.state = self.launcher.state()
        return record

    def stop_process(self, name: str, signum: int = signal.SIGTERM) -> None:
        """Stops one process (SIGTERM: graceful; SIGKILL: a crash) until :meth:`start_process`."""
        self.launcher.stop_process(name, signum)

    def start_process(self, name: str) -> ProcessRecord:
        """Starts a stopped process again on the same address and data."""
        record = self.launcher.start_process(name)
        self.state = self.launcher.state()
        return record

    def kill(self, name: str, signum: int = signal.SIGKILL) -> None:
        for record in self.processes():
            if record.name == name:
                os.kill(record.pid, signum)
                return
        raise KeyError(name)

    def add_shard(self, replicas: int = 3) -> str:
        """Starts one more metadata shard; returns its id (new buckets go to it)."""
        shard = self.launcher.add_shard(ClusterSpec(replicas=replicas, metanode_args=self.spec.metanode_args))
        self.state = self.launcher.state()
        self._watch_logs()
        return shard

    def bucket_shard(self, bucket: str) -> str | None:
        """The shard etcd assigns ``bucket`` to."""
        return asyncio.run(_bucket_shard(self.etcd, bucket))

    def shard_leader(self, shard: str = "s1") -> str | None:
        """The process name of the shard's current leader, as etcd says (None: no leader now)."""
        state = asyncio.run(_shard_state(self.etcd, shard))
        return state.leader.node_id if state is not None and state.leader is not None else None

    def shard_progress(self, shard: str = "s1") -> ShardProgress | None:
        """The replication progress the shard's leader last published (None: none yet)."""
        state = asyncio.run(_shard_state(self.etcd, shard))
        return state.progress if state is not None else None

    def shard_isr(self, shard: str = "s1") -> list[str]:
        """The shard's in-sync replicas, as etcd says."""
        state = asyncio.run(_shard_state(self.etcd, shard))
        return list(state.isr.members) if state is not None and state.isr is not None else []


async def _shard_state(endpoint: str, shard: str) -> ShardState | None:
    from coordinator.etcd import EtcdClient
    from coordinator.shards import read_shards

    client = await EtcdClient.connect(endpoint)
    try:
        return (await read_shards(client, CLUSTER_NAME)).get(shard)
    finally:
        await client.close()


async def _bucket_shard(endpoint: str, bucket: str) -> str | None:
    from coordinator.buckets import bucket_shard
    from coordinator.etcd import EtcdClient

    client = await EtcdClient.connect(endpoint)
    try:
        return await bucket_shard(client, CLUSTER_NAME, bucket)
    finally:
        await client.close()
