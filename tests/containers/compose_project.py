"""One docker-compose project run by a test module: up, scale, inspect, fault injection, down -v.

Every container, network and volume of the project carries the test label (an override file adds it
to each service, volume and the default network), its name starts with ``strata-test-``, and the
log of each container is copied to a file the server-error plugin watches.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from strata.testing.docker import TEST_LABEL, compose_command
from strata.testing.pytest_plugin import watch_log_file

REPOSITORY = Path(__file__).resolve().parents[2]
LABEL_KEY, LABEL_VALUE = TEST_LABEL.split("=", 1)
DEFAULT_ACCESS_KEY = "accessKey1"
DEFAULT_SECRET_KEY = "verySecretKey1"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(condition: Callable[[], Any], timeout: float, what: str, interval: float = 0.25) -> Any:
    """Polls ``condition`` until it returns something truthy; fails naming ``what`` after ``timeout``."""
    deadline = time.monotonic() + timeout
    last_error: BaseException | None = None
    while time.monotonic() < deadline:
        try:
            result = condition()
        except Exception as error:  # the condition is not met yet
            last_error = error
        else:
            if result:
                return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last error: {last_error!r})")


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"docker {' '.join(args)} failed: {result.stderr.strip()}")
    return result


def s3_client(
    endpoint: str, access_key: str = DEFAULT_ACCESS_KEY, secret_key: str = DEFAULT_SECRET_KEY
) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=access_key,
        aws_secret_access_key=secret_key,
        region_name="us-east-1",
        # As users' SDKs do, retry a 503 (a leader being elected, a gateway out of the balancer).
        config=Config(retries={"max_attempts": 8, "mode": "standard"}, connect_timeout=5, read_timeout=30),
    )


class ComposeProject:
    """``docker-compose -p strata-test-<name> -f <files> ...`` with the test label on everything."""

    def __init__(self, name: str, files: list[str], workdir: Path, env: dict[str, str]) -> None:
        command = compose_command()
        if command is None:
            raise AssertionError("neither docker-compose nor the docker compose plugin is installed")
        self.name = f"strata-test-{name}-{os.getpid()}"
        self.workdir = workdir
        self.env = {**os.environ, **env, "COMPOSE_PROJECT_NAME": self.name}
        self.files = [str(REPOSITORY / file) for file in files]
        self._command = command
        self._log_followers: dict[str, subprocess.Popen[bytes]] = {}
        override = workdir / "labels.override.yml"
        # JSON is YAML: the override that puts the test label on every part of the project.
        override.write_text(json.dumps(self._label_override()))
        self.files.append(str(override))

    def compose(
        self, *args: str, timeout: float = 600, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        argv = [*self._command, "-p", self.name]
        for file in self.files:
            argv += ["-f", file]
        result = subprocess.run(
            [*argv, *args], capture_output=True, text=True, timeout=timeout, env=self.env, cwd=REPOSITORY
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(self._command)} {' '.join(args)} failed ({result.returncode}):\n"
                f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
            )
        return result

    def _config(self, what: str) -> list[str]:
        argv = [*self._command, "-p", self.name]
        for file in self.files:
            argv += ["-f", file]
        result = subprocess.run(
            [*argv, "config", what], capture_output=True, text=True, env=self.env, cwd=REPOSITORY, timeout=60
        )
        if result.returncode != 0:
            raise AssertionError(f"compose config {what} failed: {result.stderr}")
        return [line for line in result.stdout.split() if line]

    def _label_override(self) -> dict[str, Any]:
        label = {LABEL_KEY: LABEL_VALUE}
        services = self._config("--services")
        volumes = self._config("--volumes")
        return {
            "services": {service: {"labels": label} for service in services},
            "volumes": {volume: {"labels": label} for volume in volumes},
            "networks": {"default": {"labels": label}},
        }

    @property
    def network(self) -> str:
        return f"{self.name}_default"

    def up(self, *args: str) -> None:
        self.compose("up", "-d", "--no-build", *args)
        self.follow_logs()

    def containers(self, service: str | None = None, running_only: bool = True) -> list[str]:
        """Container names of the project (or of one service), sorted."""
        filters = ["--filter", f"label=com.docker.compose.project={self.name}"]
        if service:
            filters += ["--filter", f"label=com.docker.compose.service={service}"]
        listing = docker("ps", *([] if running_only else ["-a"]), *filters, "--format", "{{.Names}}")
        return sorted(line for line in listing.stdout.split() if line)

    def container(self, service: str) -> str:
        names = self.containers(service, running_only=False)
        if len(names) != 1:
            raise AssertionError(f"service {service} has containers {names}, expected one")
        return names[0]

    def follow_logs(self) -> None:
        """Copies each container's output to a file the server-error plugin scans (5xx, tracebacks)."""
        logs = self.workdir / "logs"
        logs.mkdir(exist_ok=True)
        for name in self.containers():
            if name in self._log_followers and self._log_followers[name].poll() is None:
                continue
            path = logs / f"{name}.log"
            with open(path, "ab") as log_file:
                since = ["--since", "0s"] if name in self._log_followers else []
                self._log_followers[name] = subprocess.Popen(
                    ["docker", "logs", "-f", *since, name], stdout=log_file, stderr=subprocess.STDOUT
                )
            watch_log_file(path)

    def logs(self, container: str) -> str:
        result = docker("logs", container)
        return result.stdout + result.stderr

    def health(self, container: str) -> str:
        return docker("inspect", "--format", "{{.State.Health.Status}}", container).stdout.strip()

    def wait_healthy(self, containers: list[str], timeout: float = 90) -> None:
        wait_until(
            lambda: all(self.health(name) == "healthy" for name in containers),
            timeout,
            f"{', '.join(containers)} to be healthy",
        )

    def port(self, service: str, container_port: int) -> int:
        mapping = self.compose("port", service, str(container_port)).stdout.strip()
        return int(mapping.rsplit(":", 1)[1])

    def exec_python(self, container: str, code: str) -> str:
        return docker("exec", container, "python3", "-c", code, timeout=60).stdout

    def resources(self) -> dict[str, list[str]]:
        """Every container, network and volume of this project that still exists."""
        project = f"label=com.docker.compose.project={self.name}"
        found = {
            "containers": docker("ps", "-a", "--filter", project, "--format", "{{.Names}}").stdout.split(),
            "networks": docker("network", "ls", "--filter", project, "--format", "{{.Name}}").stdout.split(),
            "volumes": docker("volume", "ls", "--filter", project, "--format", "{{.Name}}").stdout.split(),
        }
        return {kind: names for kind, names in found.items() if names}

    def down(self) -> None:
        self.compose("down", "-v", "--remove-orphans", "--timeout", "10", timeout=300)
        for follower in self._log_followers.values():
            with contextlib.suppress(subprocess.TimeoutExpired):
                follower.wait(timeout=10)
            if follower.poll() is None:
                follower.kill()
                follower.wait()
        self._log_followers.clear()

    @contextlib.contextmanager
    def running(self, *up_args: str) -> Iterator[ComposeProject]:
        try:
            self.up(*up_args)
            yield self
        finally:
            self.down()
