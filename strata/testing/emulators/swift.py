"""A real all-in-one OpenStack Swift on 127.0.0.1, for tests: the ``swift`` and the ``aws_s3`` backends.

One ``SwiftServer`` runs memcached and Swift's four servers (proxy, account, container,
object) as separate processes, with one-replica rings of one device, ``mount_check =
false``, tempauth's ``test:tester`` / ``testing`` and storage in a temporary directory
under /dev/shm (tmpfs keeps user xattrs, which the object server needs). The proxy's
pipeline has ``s3api`` before ``tempauth``, so the same server is a signature-checking S3
endpoint (access key ``test:tester``, secret ``testing``), and ``slo``, ``symlink`` and
``versioned_writes`` with ``allow_object_versioning`` for static large objects and
object versioning.

The servers come from the PyPI ``swift`` package: ``$STRATA_SWIFT_BIN`` (a directory),
else beside the running Python, else ``<repo>/.tools/swift-venv/bin``. ``memcached``
comes from Debian (``$STRATA_MEMCACHED`` or PATH).

:class:`SwiftEmulator` (native API) and :class:`SwiftS3Emulator` (through s3api) share
one running server; ``stop()``/``start()`` keep its data, directories and ports.
"""

from __future__ import annotations

import getpass
import http.client
import itertools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from pathlib import Path
from typing import Any

from strata.testing.emulators import EmulatorMissing
from strata.testing.etcd import free_port

USER = "test:tester"
KEY = "testing"
INSTALL_HINT = "pip install 'swift==2.38.*' and apt-get install -y memcached (scripts/test does both)"
_REPO = Path(__file__).resolve().parents[3]
_SERVERS = ("account", "container", "object", "proxy")
_READY_TIMEOUT_S = 60.0


def _swift_bin_dir() -> Path:
    configured = os.environ.get("STRATA_SWIFT_BIN")
    candidates = [Path(configured)] if configured else []
    candidates += [Path(sys.executable).parent, _REPO / ".tools" / "swift-venv" / "bin"]
    for candidate in candidates:
        if (candidate / "swift-proxy-server").is_file() and (candidate / "swift-ring-builder").is_file():
            return candidate
    raise EmulatorMissing(f"Swift servers not found; {INSTALL_HINT}")


def _memcached_binary() -> str:
    configured = os.environ.get("STRATA_MEMCACHED") or shutil.which("memcached") or "/usr/bin/memcached"
    if not os.access(configured, os.X_OK):
        raise EmulatorMissing(f"memcached not found; {INSTALL_HINT}")
    return configured


def _scratch_root() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _server_conf(kind: str, port: int, swift_dir: Path, devices: Path) -> str:
    common = f"""[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
user = {getpass.getuser()}
swift_dir = {swift_dir}
devices = {devices}
mount_check = false
log_level = WARNING
log_name = swift-{kind}
"""
    return (
        common
        + f"""
[pipeline:main]
pipeline = {kind}-server

[app:{kind}-server]
use = egg:swift#{kind}

[{kind}-replicator]
[{kind}-updater]
[{kind}-auditor]
"""
    )


def _proxy_conf(port: int, memcached_port: int, swift_dir: Path) -> str:
    return f"""[DEFAULT]
bind_ip = 127.0.0.1
bind_port = {port}
workers = 0
user = {getpass.getuser()}
swift_dir = {swift_dir}
log_level = WARNING
log_name = swift-proxy

[pipeline:main]
pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats bulk s3api tempauth copy slo dlo versioned_writes symlink proxy-logging proxy-server

[app:proxy-server]
use = egg:swift#proxy
account_autocreate = true
allow_account_management = true

[filter:catch_errors]
use = egg:swift#catch_errors

[filter:gatekeeper]
use = egg:swift#gatekeeper

[filter:healthcheck]
use = egg:swift#healthcheck

[filter:proxy-logging]
use = egg:swift#proxy_logging

[filter:cache]
use = egg:swift#memcache
memcache_servers = 127.0.0.1:{memcached_port}

[filter:listing_formats]
use = egg:swift#listing_formats

[filter:bulk]
use = egg:swift#bulk

[filter:s3api]
use = egg:swift#s3api
location = us-east-1

[filter:tempauth]
use = egg:swift#tempauth
user_test_tester = {KEY} .admin
storage_url_scheme = http

[filter:copy]
use = egg:swift#copy

[filter:slo]
use = egg:swift#slo

[filter:dlo]
use = egg:swift#dlo

[filter:versioned_writes]
use = egg:swift#versioned_writes
allow_versioned_writes = true
allow_object_versioning = true

[filter:symlink]
use = egg:swift#symlink
"""


class SwiftServer:
    """memcached plus Swift's proxy, account, container and object servers, each a process of its own."""

    def __init__(self) -> None:
        self.bin_dir = _swift_bin_dir()
        self.memcached = _memcached_binary()
        self.root = Path(tempfile.mkdtemp(prefix="strata-swift-", dir=_scratch_root()))
        self.swift_dir = self.root / "etc"
        self.devices = self.root / "srv"
        self.logs = self.root / "logs"
        self.ports = {kind: free_port() for kind in (*_SERVERS, "memcached")}
        self._processes: dict[str, subprocess.Popen[bytes]] = {}
        self._configure()

    @property
    def proxy_url(self) -> str:
        return f"http://127.0.0.1:{self.ports['proxy']}"

    @property
    def auth_url(self) -> str:
        return f"{self.proxy_url}/auth/v1.0"

    def _configure(self) -> None:
        for directory in (self.swift_dir, self.devices / "d1", self.logs):
            directory.mkdir(parents=True)
        (self.swift_dir / "swift.conf").write_text(
            "[swift-hash]\nswift_hash_path_suffix = strata-test\nswift_hash_path_prefix = strata\n\n"
            "[storage-policy:0]\nname = gold\ndefault = yes\n\n[swift-constraints]\n"
        )
        builder = str(self.bin_dir / "swift-ring-builder")
        for kind in ("account", "container", "object"):
            ring = str(self.swift_dir / f"{kind}.builder")
            for arguments in (
                ["create", "8", "1", "1"],
                ["add", f"r1z1-127.0.0.1:{self.ports[kind]}/d1", "1"],
                ["rebalance"],
            ):
                subprocess.run([builder, ring, *arguments], check=True, capture_output=True)
            (self.swift_dir / f"{kind}-server.conf").write_text(
                _server_conf(kind, self.ports[kind], self.swift_dir, self.devices)
            )
        (self.swift_dir / "proxy-server.conf").write_text(
            _proxy_conf(self.ports["proxy"], self.ports["memcached"], self.swift_dir)
        )

    def is_running(self) -> bool:
        return bool(self._processes) and all(p.poll() is None for p in self._processes.values())

    def start(self) -> None:
        if self.is_running():
            return
        self.stop()
        self._spawn(
            "memcached",
            [self.memcached, "-l", "127.0.0.1", "-p", str(self.ports["memcached"]), "-U", "0", "-m", "64"]
            + (["-u", "root"] if os.geteuid() == 0 else []),
        )
        for kind in _SERVERS:
            script = str(self.bin_dir / f"swift-{kind}-server")
            self._spawn(kind, [sys.executable, script, str(self.swift_dir / f"{kind}-server.conf"), "-v"])
        self._wait_ready()

    def _spawn(self, kind: str, command: list[str]) -> None:
        with open(self.logs / f"{kind}.log", "ab") as log:
            self._processes[kind] = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=self.root
            )

    def _wait_ready(self) -> None:
        """Polls until tempauth answers and a container can be created (account, container and ring paths)."""
        deadline = time.monotonic() + _READY_TIMEOUT_S
        last_error = "no answer"
        while time.monotonic() < deadline:
            for kind, process in self._processes.items():
                if process.poll() is not None:
                    raise RuntimeError(f"swift {kind} exited ({process.returncode}): {self.log_tail(kind)}")
            try:
                storage_url, token = self.authenticate()
                status, _, _ = self.request("PUT", f"{storage_url}/strata-ready", token)
                if status in (201, 202):
                    return
                last_error = f"container PUT answered {status}"
            except (OSError, http.client.HTTPException, RuntimeError) as error:
                last_error = str(error)
            time.sleep(0.1)
        raise RuntimeError(f"swift did not become ready: {last_error}; proxy log: {self.log_tail('proxy')}")

    def log_tail(self, kind: str) -> str:
        path = self.logs / f"{kind}.log"
        return path.read_text(errors="replace")[-2000:] if path.exists() else ""

    def stop(self) -> None:
        for process in reversed(list(self._processes.values())):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self._processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        self._processes.clear()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    # A small synchronous client of the native API, independent of the backend under test.

    def authenticate(self, user: str = USER, key: str = KEY) -> tuple[str, str]:
        status, headers, _ = self.request(
            "GET", self.auth_url, None, {"X-Auth-User": user, "X-Auth-Key": key}
        )
        if status != 200:
            raise RuntimeError(f"tempauth answered {status}")
        return headers["x-storage-url"], headers["x-auth-token"]

    def request(
        self, method: str, url: str, token: str | None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, str], bytes]:
        parsed = urllib.parse.urlsplit(url)
        connection = http.client.HTTPConnection(parsed.hostname or "127.0.0.1", parsed.port, timeout=30)
        try:
            sent = dict(headers or {})
            if token:
                sent["X-Auth-Token"] = token
            path = parsed.path + (f"?{parsed.query}" if parsed.query else "")
            connection.request(method, path, headers=sent)
            response = connection.getresponse()
            body = response.read()
            return response.status, {k.lower(): v for k, v in response.getheaders()}, body
        finally:
            connection.close()


_shared: SwiftServer | None = None
_users = 0
_containers = itertools.count(1)


def _acquire() -> SwiftServer:
    global _shared, _users
    if _shared is None:
        _shared = SwiftServer()
    _shared.start()
    _users += 1
    return _shared


def _release() -> None:
    global _shared, _users
    _users = max(0, _users - 1)
    if _users == 0 and _shared is not None:
        _shared.close()
        _shared = None


def _fresh_container() -> str:
    return f"strata-{next(_containers)}-{uuid.uuid4().hex[:8]}"


class SwiftEmulator:
    """Swift's native API with tempauth (v1): the ``swift`` backend's server."""

    location_type = "swift"
    checks_credentials = True

    def __init__(self) -> None:
        self.server: SwiftServer | None = None

    def _server(self) -> SwiftServer:
        if self.server is None:
            raise RuntimeError("the Swift emulator is not started")
        return self.server

    def start(self) -> None:
        if self.server is None:
            self.server = _acquire()
        else:
            self.server.start()

    def stop(self) -> None:
        self._server().stop()

    def close(self) -> None:
        if self.server is not None:
            self.server = None
            _release()

    def location(self, *, bucket_match: bool, versioned: bool = False) -> dict[str, Any]:
        server = self._server()
        container = _fresh_container()
        storage_url, token = server.authenticate()
        status, _, _ = server.request("PUT", f"{storage_url}/{container}", token)
        if status not in (201, 202):
            raise RuntimeError(f"creating container {container} answered {status}")
        return {
            "type": "swift",
            "legacyAwsBehavior": False,
            "details": {
                "swiftAuthUrl": server.auth_url,
                "swiftAuthVersion": 1,
                "swiftUser": USER,
                "swiftKey": KEY,
                "swiftContainerName": container,
                "bucketMatch": bucket_match,
            },
        }

    def with_bad_credentials(self, location: dict[str, Any]) -> dict[str, Any]:
        return {**location, "details": {**location["details"], "swiftKey": "wrong-secret"}}

    def read_direct(self, location: dict[str, Any], name: str) -> bytes | None:
        server = self._server()
        storage_url, token = server.authenticate()
        container = location["details"]["swiftContainerName"]
        url = f"{storage_url}/{container}/{urllib.parse.quote(name)}"
        status, _, body = server.request("GET", url, token)
        if status == 404:
            return None
        if status != 200:
            raise RuntimeError(f"GET {name} answered {status}")
        return body

    def names_direct(self, location: dict[str, Any]) -> list[str]:
        return self.list_container(location["details"]["swiftContainerName"])

    def list_container(self, container: str, prefix: str = "") -> list[str]:
        """Every object name in ``container`` (a missing container has none), sorted."""
        server = self._server()
        storage_url, token = server.authenticate()
        names: list[str] = []
        marker = ""
        while True:
            query = urllib.parse.urlencode({"format": "json", "marker": marker, "prefix": prefix})
            status, _, body = server.request("GET", f"{storage_url}/{container}?{query}", token)
            if status == 404:
                return []
            if status not in (200, 204):
                raise RuntimeError(f"listing {container} answered {status}")
            page = [entry["name"] for entry in json.loads(body or b"[]")]
            if not page:
                return sorted(names)
            names += page
            marker = page[-1]

    def headers_direct(self, location: dict[str, Any], name: str) -> dict[str, str] | None:
        """The response headers of a HEAD of ``name`` in the location's container (lower-case names)."""
        server = self._server()
        storage_url, token = server.authenticate()
        container = location["details"]["swiftContainerName"]
        url = f"{storage_url}/{container}/{urllib.parse.quote(name)}"
        status, headers, _ = server.request("HEAD", url, token)
        return None if status == 404 else headers


class SwiftS3Emulator:
    """The same Swift through its s3api middleware: a signature-checking S3 endpoint for ``aws_s3``."""

    location_type = "aws_s3"
    checks_credentials = True

    def __init__(self) -> None:
        self.server: SwiftServer | None = None

    def _server(self) -> SwiftServer:
        if self.server is None:
            raise RuntimeError("the Swift emulator is not started")
        return self.server

    def start(self) -> None:
        if self.server is None:
            self.server = _acquire()
        else:
            self.server.start()

    def stop(self) -> None:
        self._server().stop()

    def close(self) -> None:
        if self.server is not None:
            self.server = None
            _release()

    def _client(self, secret: str = KEY) -> Any:
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self._server().proxy_url,
            aws_access_key_id=USER,
            aws_secret_access_key=secret,
            region_name="us-east-1",
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def location(self, *, bucket_match: bool, versioned: bool = False) -> dict[str, Any]:
        bucket = _fresh_container()
        self._client().create_bucket(Bucket=bucket)
        if versioned:  # Swift's S3 API maps this onto its object versioning
            self._client().put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        return {
            "type": "aws_s3",
            "legacyAwsBehavior": False,
            "details": {
                "awsEndpoint": f"127.0.0.1:{self._server().ports['proxy']}",
                "bucketName": bucket,
                "bucketMatch": bucket_match,
                "credentials": {"accessKey": USER, "secretKey": KEY},
                "https": False,
                "pathStyle": True,
                "supportsVersioning": versioned,
                "region": "us-east-1",
            },
        }

    def with_bad_credentials(self, location: dict[str, Any]) -> dict[str, Any]:
        details = location["details"]
        return {
            **location,
            "details": {**details, "credentials": {**details["credentials"], "secretKey": "x"}},
        }

    def read_direct(self, location: dict[str, Any], name: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            response = self._client().get_object(Bucket=location["details"]["bucketName"], Key=name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        body: bytes = response["Body"].read()
        return body

    def names_direct(self, location: dict[str, Any]) -> list[str]:
        client = self._client()
        names: list[str] = []
        for page in client.get_paginator("list_objects").paginate(Bucket=location["details"]["bucketName"]):
            names += [entry["Key"] for entry in page.get("Contents", [])]
        return sorted(names)
