"""A real single-member etcd process on 127.0.0.1, for tests and the local cluster launcher.

    with EtcdProcess() as etcd:          # or: async with EtcdProcess() as etcd:
        client = await EtcdClient.connect(etcd.endpoint)

Ports are chosen free (bind to port 0) unless given; the data directory is a
fresh temporary directory under /dev/shm (RAM, so no fsync cost) unless given.
A directory the process created itself is removed by ``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from types import TracebackType

INSTALL_HINT = "install it with: apt-get install -y etcd-server (Debian/Ubuntu), or set STRATA_ETCD_BINARY"
_DEFAULT_BINARY_PATHS = ("/usr/bin/etcd", "/usr/local/bin/etcd")
_START_ATTEMPTS = 3  # a free port can be taken by someone else between probing and binding


class EtcdNotFoundError(RuntimeError):
    """The etcd server binary is not installed."""


def find_etcd_binary() -> str:
    """Path of the etcd server binary: $STRATA_ETCD_BINARY, then PATH, then the usual places."""
    configured = os.environ.get("STRATA_ETCD_BINARY")
    if configured:
        if os.access(configured, os.X_OK):
            return configured
        raise EtcdNotFoundError(f"STRATA_ETCD_BINARY={configured} is not an executable file; {INSTALL_HINT}")
    on_path = shutil.which("etcd")
    if on_path:
        return on_path
    for candidate in _DEFAULT_BINARY_PATHS:
        if os.access(candidate, os.X_OK):
            return candidate
    raise EtcdNotFoundError(f"etcd server binary not found; {INSTALL_HINT}")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nobody was listening on a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _scratch_root() -> str | None:
    shm = "/dev/shm"
    return shm if os.path.isdir(shm) and os.access(shm, os.W_OK) else None


class EtcdProcess:
    """One etcd member listening on 127.0.0.1, tuned to elect itself leader in tens of milliseconds."""

    def __init__(
        self,
        *,
        binary: str | None = None,
        data_dir: str | os.PathLike[str] | None = None,
        client_port: int | None = None,
        peer_port: int | None = None,
        name: str = "strata-etcd",
        log_path: str | os.PathLike[str] | None = None,
    ) -> None:
        self.binary = binary or find_etcd_binary()
        self.name = name
        self._fixed_ports = client_port is not None
        self.client_port = client_port or 0
        self.peer_port = peer_port or 0
        self._owned_dir: str | None = None
        if data_dir is None:
            self._owned_dir = tempfile.mkdtemp(prefix="strata-etcd-", dir=_scratch_root())
            self.data_dir = Path(self._owned_dir) / "data"
        else:
            self.data_dir = Path(data_dir)
        if log_path is not None:
            self.log_path = Path(log_path)
        elif self._owned_dir is not None:
            self.log_path = Path(self._owned_dir) / "etcd.log"
        else:
            self.log_path = self.data_dir.parent / f"{name}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        """The client endpoint as ``127.0.0.1:PORT`` (what ``EtcdClient.connect`` takes)."""
        return f"127.0.0.1:{self.client_port}"

    @property
    def client_url(self) -> str:
        return f"http://{self.endpoint}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def is_running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self, timeout: float = 15.0) -> EtcdProcess:
        """Starts etcd and returns once it reports healthy; raises RuntimeError with its log otherwise."""
        if self.is_running():
            return self
        last_error: RuntimeError | None = None
        attempts = 1 if self._fixed_ports else _START_ATTEMPTS
        for _ in range(attempts):
            if not self._fixed_ports and (self.client_port == 0 or last_error is not None):
                self.client_port, self.peer_port = free_port(), free_port()
            elif self.peer_port == 0:
                self.peer_port = free_port()
            try:
                self._spawn_and_wait(timeout)
                # Later restarts keep the same ports: clients and watches reconnect to them.
                self._fixed_ports = True
                return self
            except RuntimeError as error:
                last_error = error
                if self._owned_dir is not None:
                    # A half-initialised member directory remembers the old peer URL.
                    shutil.rmtree(self.data_dir, ignore_errors=True)
        assert last_error is not None
        raise last_error

    def _command(self) -> list[str]:
        client_url = self.client_url
        peer_url = f"http://127.0.0.1:{self.peer_port}"
        return [
            self.binary,
            "--name",
            self.name,
            "--data-dir",
            str(self.data_dir),
            "--listen-client-urls",
            client_url,
            "--advertise-client-urls",
            client_url,
            "--listen-peer-urls",
            peer_url,
            "--initial-advertise-peer-urls",
            peer_url,
            "--initial-cluster",
            f"{self.name}={peer_url}",
            "--initial-cluster-state",
            "new",
            "--heartbeat-interval",
            "10",
            "--election-timeout",
            "50",
            "--logger",
            "zap",
            "--log-level",
            "warn",
        ]

    def _spawn_and_wait(self, timeout: float) -> None:
        self.data_dir.parent.mkdir(parents=True, exist_ok=True)
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as log_file:
            self._process = subprocess.Popen(
                self._command(),
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # a Ctrl-C aimed at the test run is handled by us, not etcd
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise RuntimeError(f"etcd exited during startup; log tail:\n{self._log_tail()}")
            if self._healthy():
                return
            time.sleep(0.02)
        self._terminate(signal.SIGKILL, 5.0)
        raise RuntimeError(f"etcd did not become healthy within {timeout}s; log tail:\n{self._log_tail()}")

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.client_url}/health", timeout=0.5) as response:
                return b'"health":"true"' in response.read()
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def _terminate(self, signum: int, timeout: float) -> None:
        process = self._process
        if process is None:
            return
        if process.poll() is None:
            process.send_signal(signum)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        self._process = None

    def kill(self) -> None:
        """Kills etcd abruptly (SIGKILL), keeping its data directory so ``start()`` can bring it back."""
        self._terminate(signal.SIGKILL, 5.0)

    def restart(self, timeout: float = 15.0) -> None:
        """Stops etcd gracefully and starts it again on the same ports with the same data."""
        self._terminate(signal.SIGTERM, 5.0)
        self.start(timeout)

    def pause(self) -> None:
        """Freezes etcd (SIGSTOP): clients see it hang rather than refuse connections."""
        if self._process is not None:
            self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._process is not None:
            self._process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        """Stops etcd and removes the data directory if this object created it."""
        if self._process is not None and self._process.poll() is None:
            self.resume()  # a stopped process cannot handle SIGTERM
        self._terminate(signal.SIGTERM, 5.0)
        if self._owned_dir is not None:
            shutil.rmtree(self._owned_dir, ignore_errors=True)
            self._owned_dir = None

    def __enter__(self) -> EtcdProcess:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    async def __aenter__(self) -> EtcdProcess:
        return await asyncio.to_thread(self.start)

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await asyncio.to_thread(self.stop)

    def __del__(self) -> None:
        # Last resort so a forgotten fixture does not leave an etcd running.
        with contextlib.suppress(Exception):
            if self._process is not None and self._process.poll() is None:
                self._process.kill()
