"""Strata in Docker for integration suites, with testcontainers (4.x).

    from strata.testing.containers import StrataContainer

    with StrataContainer() as strata:            # the embedded all-in-one server
        s3 = strata.boto3_client()

    with StrataClusterContainers() as strata:    # etcd, metanode, datanode, coordinator, gateway
        s3 = strata.boto3_client()

Both offer ``strata.testing.running.RunningStrata``, as ``LocalCluster`` does without Docker.

The image is ``strata:latest`` unless ``STRATA_IMAGE`` (or the ``image`` argument) says
otherwise; build it with ``scripts/docker-build``. Where no container registry is reachable,
testcontainers needs two settings, which this module sets (unless already set) before it
imports testcontainers:

- ``TESTCONTAINERS_RYUK_DISABLED=true``: its reaper container's image cannot be pulled; the
  containers are removed by ``stop()`` (and by the context manager) instead;
- ``TESTCONTAINERS_CONNECTION_MODE=docker_host``: inside a container (or a machine that looks
  like one) testcontainers would otherwise reach published ports through the bridge gateway.

The cluster is started from plain containers on a network of its own rather than from the
compose file: the containers start in parallel and readiness is polled directly (etcd's log,
then the gateway's ``/_/healthcheck``), where compose would wait out health-check intervals
and run one more program (``docker-compose``). Everything created carries the label
``org.strata.test=1`` and is removed by ``stop()``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, Self

from strata.testing.running import Credentials, RunningStrataBase

if TYPE_CHECKING:
    from testcontainers.core.container import DockerContainer
    from testcontainers.core.network import Network

TESTCONTAINERS_ENV = {"TESTCONTAINERS_RYUK_DISABLED": "true", "TESTCONTAINERS_CONNECTION_MODE": "docker_host"}
TEST_LABELS = {"org.strata.test": "1"}
DEFAULT_ETCD_IMAGE = "strata-etcd:latest"
S3_PORT = 8000
ETCD_PORT = 2379
METANODE_PORT = 9990
DATANODE_PORT = 9991
COORDINATOR_PORT = 8003
ETCD_READY_LINE = "ready to serve client requests"
# Containers run as this user (the Strata image's own, uid 1000), so their in-memory state
# directories can be given to it whatever user an image declares.
RUN_AS_UID = 1000


class ContainerStartError(RuntimeError):
    """A container did not become ready; the message carries its log's tail."""


def prepare_testcontainers_environment() -> None:
    """Sets the settings a registry-less machine needs, unless the caller chose otherwise.

    testcontainers reads them when it is first imported, so this runs before that import.
    """
    for name, value in TESTCONTAINERS_ENV.items():
        os.environ.setdefault(name, value)


def docker_unavailable_reason() -> str | None:
    """None when containers can run here, else why not (Docker missing, engine not answering)."""
    try:
        from strata.testing.docker import docker_available
    except ImportError:
        return "strata.testing.docker is not installed with this Strata"
    return docker_available()


def strata_image() -> str:
    """The image to run: built by ``scripts/docker-build`` if it is missing (``STRATA_IMAGE``)."""
    from strata.testing.docker import ensure_image

    return ensure_image()


def _testcontainers() -> tuple[type[DockerContainer], type[Network]]:
    prepare_testcontainers_environment()
    try:
        from testcontainers.core.container import DockerContainer
        from testcontainers.core.network import Network
    except ImportError as error:
        raise ImportError(
            "strata.testing.containers needs testcontainers: pip install 'strata[containers]'"
        ) from error
    return DockerContainer, Network


def _declared_volumes(container: DockerContainer, image: str) -> list[str]:
    details = container.get_docker_client().client.images.get(image).attrs
    return sorted((details.get("Config") or {}).get("Volumes") or {})


def _publish_on_loopback(container: DockerContainer, port: int) -> None:
    """Publishes ``port`` on a free 127.0.0.1 port only: the server's default keys stay local."""
    # docker-py takes (host address, host port); None lets the engine choose the port.
    container.ports[f"{port}/tcp"] = ("127.0.0.1", None)  # type: ignore[assignment]


def _host_address(container: DockerContainer) -> str:
    host = container.get_container_host_ip()
    return "127.0.0.1" if host == "localhost" else host


def _log_tail(container: DockerContainer, limit: int = 3000) -> str:
    with contextlib.suppress(Exception):
        stdout, stderr = container.get_logs()
        return (stdout + stderr).decode("utf-8", "replace")[-limit:]
    return "(no log)"


def _wait_healthy(url: str, containers: list[DockerContainer], timeout_s: float) -> None:
    """Polls ``url`` until it answers 200; fails early when a container exits."""
    deadline = time.monotonic() + timeout_s
    while True:
        with contextlib.suppress(urllib.error.URLError, OSError):
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        for container in containers:
            if container.status in ("exited", "dead"):
                raise ContainerStartError(f"{container.image} exited:\n{_log_tail(container)}")
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {c.image}\n{_log_tail(c, 1500)}" for c in containers)
            raise ContainerStartError(f"{url} did not answer 200 within {timeout_s:.0f}s\n{tails}")
        time.sleep(0.1)


def _wait_log_line(container: DockerContainer, line: str, timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while line not in _log_tail(container, limit=1_000_000):
        if container.status in ("exited", "dead"):
            raise ContainerStartError(f"{container.image} exited:\n{_log_tail(container)}")
        if time.monotonic() > deadline:
            raise ContainerStartError(f"{container.image} did not log {line!r}:\n{_log_tail(container)}")
        time.sleep(0.05)


class _LogFollower:
    """Copies a container's output to a file the Strata pytest plugin checks, when it is loaded."""

    def __init__(self, container: DockerContainer, path: Path) -> None:
        self.path = path
        self._container = container
        self._thread = threading.Thread(target=self._follow, daemon=True, name=f"logs-{path.name}")

    def start(self) -> None:
        self.path.touch()
        plugin = sys.modules.get("strata.testing.pytest_plugin")
        if plugin is not None:
            plugin.watch_log_file(self.path)
        self._thread.start()

    def _follow(self) -> None:
        with contextlib.suppress(Exception), open(self.path, "ab") as log:
            for chunk in self._container.get_wrapped_container().logs(stream=True, follow=True):
                log.write(chunk)
                log.flush()

    def finish(self) -> None:
        """Waits (briefly) for the last lines once the container is stopped."""
        self._thread.join(timeout=5)
        plugin = sys.modules.get("strata.testing.pytest_plugin")
        if plugin is not None:
            plugin.scan_watched_logs()


class _ContainersBase(RunningStrataBase):
    """What both classes share: the image, the credentials, log files, and removal."""

    def __init__(
        self,
        image: str | None,
        credentials: Credentials | None,
        env: dict[str, str] | None,
        start_timeout_s: float,
    ) -> None:
        self._image = image
        self._credentials = credentials or Credentials.from_environment({})
        self.env = dict(env or {})
        self.start_timeout_s = start_timeout_s
        self.containers: dict[str, DockerContainer] = {}  # by role name: server, etcd, gateway-1, ...
        self.log_dir: Path | None = None  # each container's output while it runs (<name>.log)
        self._followers: list[_LogFollower] = []

    @property
    def image(self) -> str:
        if self._image is None:
            self._image = strata_image()
        return self._image

    @property
    def credentials(self) -> Credentials:
        return self._credentials

    def _container(
        self, image: str, name: str, command: list[str], entrypoint: list[str] | None = None
    ) -> DockerContainer:
        """A container whose state lives in memory for as long as it runs (no volume is left behind):
        every volume its image declares is a tmpfs owned by the user the container runs as."""
        docker_container, _ = _testcontainers()
        create: dict[str, Any] = {"labels": dict(TEST_LABELS), "user": f"{RUN_AS_UID}:{RUN_AS_UID}"}
        if entrypoint is not None:
            create["entrypoint"] = entrypoint
        container = docker_container(image, **create)
        container.with_command(command)
        for path in _declared_volumes(container, image):
            container.tmpfs[path] = f"uid={RUN_AS_UID},gid={RUN_AS_UID}"  # docker's tmpfs mount options
        self.containers[name] = container
        return container

    def _started(self, name: str) -> DockerContainer:
        container = self.containers[name]
        assert self.log_dir is not None, "start() makes the log directory first"
        container.start()
        follower = _LogFollower(container, self.log_dir / f"{name}.log")
        follower.start()
        self._followers.append(follower)
        return container

    def _make_log_dir(self) -> None:
        if self.log_dir is None:
            self.log_dir = Path(tempfile.mkdtemp(prefix="strata-containers-"))

    def _remove_containers(self) -> None:
        for container in reversed(self.containers.values()):
            with contextlib.suppress(Exception):
                container.stop()
        for follower in self._followers:
            follower.finish()  # the plugin has read the logs: they can go
        self.containers.clear()
        self._followers.clear()
        if self.log_dir is not None:
            shutil.rmtree(self.log_dir, ignore_errors=True)
            self.log_dir = None


class StrataContainer(_ContainersBase):
    """The embedded all-in-one server (the image's default command) with S3 on a 127.0.0.1 port."""

    def __init__(
        self,
        image: str | None = None,
        credentials: Credentials | None = None,
        env: dict[str, str] | None = None,
        start_timeout_s: float = 120.0,
    ) -> None:
        """``image``: default ``STRATA_IMAGE`` or ``strata:latest``; ``env``: more server settings
        (CloudServer-style names, e.g. ``{"S3BACKEND": "mem"}``)."""
        super().__init__(image, credentials, env, start_timeout_s)
        self.container: DockerContainer | None = None
        self._endpoint_url = ""

    @property
    def endpoint_url(self) -> str:
        if not self._endpoint_url:
            raise RuntimeError("the container is not started")
        return self._endpoint_url

    def start(self) -> Self:
        image = self.image  # built first if missing: nothing to clean up if that fails
        self._make_log_dir()
        try:
            container = self._container(image, "server", ["strata", "server", "--host", "0.0.0.0"])
            for name, value in {**self._credentials.as_environment(), **self.env}.items():
                container.with_env(name, value)
            _publish_on_loopback(container, S3_PORT)
            self._started("server")
            self.container = container
            port = container.get_exposed_port(S3_PORT)
            self._endpoint_url = f"http://{_host_address(container)}:{port}"
            _wait_healthy(f"{self._endpoint_url}/_/healthcheck", [container], self.start_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._remove_containers()
        self.container = None
        self._endpoint_url = ""


class StrataClusterContainers(_ContainersBase):
    """A small cluster on a Docker network of its own: one etcd, ``metanodes`` metadata replicas
    (one shard), ``datanodes`` data nodes, a coordinator and one gateway published on 127.0.0.1."""

    def __init__(
        self,
        image: str | None = None,
        etcd_image: str | None = None,
        metanodes: int = 1,
        datanodes: int = 1,
        credentials: Credentials | None = None,
        env: dict[str, str] | None = None,
        start_timeout_s: float = 180.0,
    ) -> None:
        """``etcd_image``: an image whose ``etcd`` is on PATH (default ``STRATA_ETCD_IMAGE`` or
        ``strata-etcd:latest``, built by ``scripts/docker-build``); ``metanodes``: 1, 3 or 5."""
        if metanodes not in (1, 3, 5):
            raise ValueError(f"a shard has 1, 3 or 5 metanodes, not {metanodes}")
        if datanodes < 1:
            raise ValueError("a cluster needs at least one datanode")
        super().__init__(image, credentials, env, start_timeout_s)
        self.etcd_image = etcd_image or os.environ.get("STRATA_ETCD_IMAGE", DEFAULT_ETCD_IMAGE)
        self.metanodes = metanodes
        self.datanodes = datanodes
        self.prefix = f"strata-test-{uuid.uuid4().hex[:8]}"
        self.network: Network | None = None
        self.gateway: DockerContainer | None = None
        self._endpoint_url = ""

    @property
    def endpoint_url(self) -> str:
        if not self._endpoint_url:
            raise RuntimeError("the cluster is not started")
        return self._endpoint_url

    def _member(
        self, image: str, name: str, command: list[str], entrypoint: list[str] | None = None
    ) -> DockerContainer:
        assert self.network is not None
        container = self._container(image, name, command, entrypoint)
        container.with_name(f"{self.prefix}-{name}").with_network(self.network).with_network_aliases(name)
        for key, value in self.env.items():
            container.with_env(key, value)
        return container

    def start(self) -> Self:
        _, network_class = _testcontainers()
        image = self.image
        from strata.testing.docker import image_exists

        if not image_exists(self.etcd_image):
            raise ContainerStartError(f"no image {self.etcd_image}: build it with scripts/docker-build")
        self._make_log_dir()
        try:
            self.network = network_class(docker_network_kw={"labels": dict(TEST_LABELS)})
            self.network.name = self.prefix
            self.network.create()
            etcd = self._member(
                self.etcd_image,
                "etcd",
                [
                    "--name",
                    "etcd",
                    "--data-dir",
                    "/tmp/etcd/data",
                    "--listen-client-urls",
                    f"http://0.0.0.0:{ETCD_PORT}",
                    "--advertise-client-urls",
                    f"http://etcd:{ETCD_PORT}",
                    "--listen-peer-urls",
                    "http://127.0.0.1:2380",
                    "--initial-advertise-peer-urls",
                    "http://127.0.0.1:2380",
                    "--initial-cluster",
                    "etcd=http://127.0.0.1:2380",
                    "--heartbeat-interval",
                    "50",
                    "--election-timeout",
                    "500",
                ],
                entrypoint=["etcd"],  # whatever the image's own entrypoint is
            )
            etcd.tmpfs["/tmp/etcd"] = f"uid={RUN_AS_UID},gid={RUN_AS_UID}"
            self._started("etcd")
            _wait_log_line(etcd, ETCD_READY_LINE, self.start_timeout_s)
            common = ["--etcd", f"{self._address_of(etcd)}:{ETCD_PORT}", "--cluster", "local", "--json-logs"]
            members = [
                *(
                    self._member(
                        image,
                        f"metanode-{index}",
                        [
                            "strata",
                            "metanode",
                            *common,
                            "--node-id",
                            f"metanode-{index}",
                            "--listen",
                            f"0.0.0.0:{METANODE_PORT}",
                            "--advertise",
                            f"metanode-{index}:{METANODE_PORT}",
                            "--data-dir",
                            "/metadata/db",
                            "--replicas",
                            str(self.metanodes),
                        ],
                    )
                    for index in range(1, self.metanodes + 1)
                ),
                *(
                    self._member(
                        image,
                        f"datanode-{index}",
                        [
                            "strata",
                            "datanode",
                            *common,
                            "--node-id",
                            f"datanode-{index}",
                            "--listen",
                            f"0.0.0.0:{DATANODE_PORT}",
                            "--advertise",
                            f"datanode-{index}:{DATANODE_PORT}",
                            "--data-dir",
                            "/data/blobs",
                        ],
                    )
                    for index in range(1, self.datanodes + 1)
                ),
                self._member(
                    image,
                    "coordinator-1",
                    [
                        "strata",
                        "coordinator",
                        *common,
                        "--node-id",
                        "coordinator-1",
                        "--listen",
                        f"0.0.0.0:{COORDINATOR_PORT}",
                    ],
                ),
            ]
            gateway = self._member(
                image,
                "gateway-1",
                [
                    "strata",
                    "gateway",
                    *common,
                    "--node-id",
                    "gateway-1",
                    "--host",
                    "0.0.0.0",
                    "--port",
                    str(S3_PORT),
                ],
            )
            for name, value in self._credentials.as_environment().items():
                gateway.with_env(name, value)
            _publish_on_loopback(gateway, S3_PORT)
            everyone = [*members, gateway]
            names = [name for name in self.containers if name != "etcd"]
            # Creating and starting a container is mostly waiting on the engine: start them together.
            with ThreadPoolExecutor(max_workers=len(names)) as pool:
                list(pool.map(self._started, names))
            self.gateway = gateway
            port = gateway.get_exposed_port(S3_PORT)
            self._endpoint_url = f"http://{_host_address(gateway)}:{port}"
            _wait_healthy(f"{self._endpoint_url}/_/healthcheck", [etcd, *everyone], self.start_timeout_s)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        self._remove_containers()
        if self.network is not None and self.network._network is not None:
            with contextlib.suppress(Exception):
                self.network.remove()
        self.network = None
        self.gateway = None
        self._endpoint_url = ""

    def _address_of(self, container: DockerContainer) -> str:
        """The container's address on the cluster's network (the roles are given etcd by address)."""
        assert self.network is not None
        wrapped = container.get_wrapped_container()
        wrapped.reload()
        return str(wrapped.attrs["NetworkSettings"]["Networks"][self.network.name]["IPAddress"])

    def container(self, name: str) -> DockerContainer:
        """One member by its name on the network (``etcd``, ``metanode-1``, ``gateway-1``, ...)."""
        return self.containers[name]
