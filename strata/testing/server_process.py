"""``strata server`` (the embedded all-in-one server) as a real process on a free 127.0.0.1 port.

with StrataServerProcess() as strata:
    s3 = strata.boto3_client()

The process runs in its own working directory (a temporary one unless given), so its
``localData``/``localMetadata`` never land in the caller's directory, and its JSON log goes
to ``<workdir>/server.log``, which the Strata pytest plugin checks for 5xx answers and
tracebacks when it is loaded.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Self

from strata.localcluster import ClusterError, _wait_http, pick_port
from strata.testing.running import Credentials, RunningStrataBase

# Settings of the caller's environment that would change what the server does; the server is
# given only what this class is told (a user's SCALITY_* pair must not leak into a test server).
_INHERITED_SETTING_PREFIXES = ("S3", "SCALITY_", "STRATA_", "LISTEN_ADDR", "ENDPOINT", "LOG_LEVEL")


_PORT_ATTEMPTS = 3


class _PortTaken(ClusterError):
    """The chosen port was taken before the server could listen on it."""


class StrataServerProcess(RunningStrataBase):
    def __init__(
        self,
        workdir: Path | None = None,
        backend: str = "file",
        credentials: Credentials | None = None,
        port: int | None = None,
        extra_env: dict[str, str] | None = None,
        start_timeout_s: float = 60.0,
    ) -> None:
        """``backend``: ``file`` (data on disk under ``workdir``) or ``mem``; ``port``: None picks one."""
        self._given_workdir = Path(workdir) if workdir is not None else None
        self.backend = backend
        self._credentials = credentials or Credentials.from_environment({})
        self._requested_port = port
        self.port = port or 0
        self.extra_env = dict(extra_env or {})
        self.start_timeout_s = start_timeout_s
        self.workdir: Path | None = self._given_workdir
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def credentials(self) -> Credentials:
        return self._credentials

    @property
    def log_path(self) -> Path:
        assert self.workdir is not None, "not started"
        return self.workdir / "server.log"

    def start(self) -> Self:
        if self.workdir is None:
            self.workdir = Path(tempfile.mkdtemp(prefix="strata-server-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith(_INHERITED_SETTING_PREFIXES)}
        env.update({"PYTHONUNBUFFERED": "1", **self._credentials.as_environment(), **self.extra_env})
        self._log = open(self.log_path, "ab")  # noqa: SIM115 -- closed in stop()
        _watch_log(self.log_path)
        # A free port may be taken by another process before the server binds it: then try another
        # (only when the port was ours to choose).
        attempts = 1 if self._requested_port else _PORT_ATTEMPTS
        for attempt in range(1, attempts + 1):
            self.port = pick_port(self._requested_port or None, set())
            command = [sys.executable, "-m", "strata.cli", "server", "--json-logs"]
            command += ["--backend", self.backend, "--host", "127.0.0.1", "--port", str(self.port)]
            self.process = subprocess.Popen(
                command, cwd=self.workdir, env=env, stdout=self._log, stderr=subprocess.STDOUT
            )
            try:
                self._wait_ready()
                return self
            except _PortTaken:
                if attempt == attempts:
                    self.stop()
                    raise
            except BaseException:
                self.stop()
                raise
        raise AssertionError("unreachable")

    def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout_s
        while self.process.poll() is None:
            try:
                _wait_http(
                    f"{self.endpoint_url}/_/healthcheck", min(1.0, max(deadline - time.monotonic(), 0.1))
                )
                return
            except ClusterError:
                if time.monotonic() > deadline:
                    raise ClusterError(
                        f"strata server did not become ready within {self.start_timeout_s:.0f}s "
                        f"(log: {self.log_path})"
                    ) from None
        tail = self.log_path.read_text(errors="replace")[-2000:]
        failure = (
            _PortTaken if f"127.0.0.1:{self.port}: the address is already in use" in tail else ClusterError
        )
        raise failure(f"strata server exited with status {self.process.returncode}:\n{tail}")

    def stop(self) -> None:
        if self.process is not None:
            if self.process.poll() is None:
                self.process.send_signal(signal.SIGTERM)
                try:
                    self.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    self.process.kill()
                    self.process.wait(timeout=10)
            self.process = None
        if self._log is not None:
            self._log.close()
            self._log = None
        if self._given_workdir is None and self.workdir is not None:
            # Our own temporary directory: nothing of the caller's is in it.
            plugin = sys.modules.get("strata.testing.pytest_plugin")
            if plugin is not None:
                plugin.scan_watched_logs()  # before the log goes with the directory
            shutil.rmtree(self.workdir, ignore_errors=True)
            self.workdir = None


def _watch_log(path: Path) -> None:
    """Lets the pytest plugin (when it is loaded) check the server's log for 5xx and tracebacks."""
    plugin = sys.modules.get("strata.testing.pytest_plugin")
    if plugin is not None:
        with contextlib.suppress(OSError):
            plugin.watch_log_file(path)
