"""Azurite, Microsoft's Azure Storage emulator (its Blob service), as a test server.

``scripts/test`` installs it with npm into ``<repo>/.tools/azurite``; ``STRATA_AZURITE_MAIN``
may point at another ``azurite/dist/src/blob/main.js``. Azurite keeps its data under
``--location``, so ``stop()`` then ``start()`` comes back with the same containers and blobs.
It checks SharedKey signatures, so wrong credentials are refused as on Azure.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from strata.testing.emulators import EmulatorMissing

ACCOUNT_NAME = "devstoreaccount1"
# Azurite's documented well-known development key (public; it protects nothing).
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
OTHER_KEY = "c3RyYXRhLXRlc3RzLXdyb25nLWtleS1zdHJhdGEtdGVzdHMtd3Jvbmcta2V5LTAwMDAwMDA="
INSTALL = "npm install --prefix .tools/azurite azurite@3.35.0 (Node 20), or set STRATA_AZURITE_MAIN"
_REPO = Path(__file__).resolve().parents[3]
_READY_WITHIN_S = 30.0


def azurite_main() -> Path:
    """The Blob service entry point of the installed Azurite."""
    configured = os.environ.get("STRATA_AZURITE_MAIN")
    main = (
        Path(configured)
        if configured
        else _REPO / ".tools/azurite/node_modules/azurite/dist/src/blob/main.js"
    )
    if not main.is_file() or shutil.which("node") is None:
        raise EmulatorMissing(INSTALL)
    return main


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class AzuriteEmulator:
    location_type = "azure"
    checks_credentials = True

    def __init__(self) -> None:
        self._main = azurite_main()
        self._port = _free_port()
        self._directory = Path(tempfile.mkdtemp(prefix="strata-azurite-"))
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self._port}/{ACCOUNT_NAME}"

    def start(self) -> None:
        if self._process is not None:
            return
        command = [
            "node",
            str(self._main),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(self._port),
            "--location",
            str(self._directory / "data"),
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--silent",
        ]
        log = open(self._directory / "azurite.log", "ab")  # noqa: SIM115 - the child owns it
        try:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        finally:
            log.close()
        deadline = time.monotonic() + _READY_WITHIN_S
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                self._process = None
                raise RuntimeError(f"azurite exited at start; see {self._directory / 'azurite.log'}")
            try:
                with socket.create_connection(("127.0.0.1", self._port), timeout=0.5):
                    return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"azurite did not listen on {self._port} within {_READY_WITHIN_S} s")

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        process.send_signal(signal.SIGTERM)  # Azurite saves its metadata store on SIGTERM
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def pause(self) -> None:
        """Freezes the server (SIGSTOP): connections open but nothing answers, as a hung service."""
        assert self._process is not None
        self._process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        assert self._process is not None
        self._process.send_signal(signal.SIGCONT)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self._directory, ignore_errors=True)

    def location(self, *, bucket_match: bool, versioned: bool = False) -> dict[str, Any]:
        container = f"strata-{uuid.uuid4().hex[:20]}"
        with self._service() as service:
            service.create_container(container)
        return {
            "type": "azure",
            "legacyAwsBehavior": False,
            "details": {
                "azureStorageEndpoint": self.endpoint,
                "azureStorageAccountName": ACCOUNT_NAME,
                "azureStorageAccessKey": ACCOUNT_KEY,
                "azureContainerName": container,
                "bucketMatch": bucket_match,
            },
        }

    def with_bad_credentials(self, location: dict[str, Any]) -> dict[str, Any]:
        return {**location, "details": {**location["details"], "azureStorageAccessKey": OTHER_KEY}}

    def read_direct(self, location: dict[str, Any], name: str) -> bytes | None:
        from azure.core.exceptions import ResourceNotFoundError

        with self._service() as service:
            blob = service.get_blob_client(location["details"]["azureContainerName"], name)
            try:
                return bytes(blob.download_blob().readall())
            except ResourceNotFoundError:
                return None

    def names_direct(self, location: dict[str, Any]) -> list[str]:
        with self._service() as service:
            container = service.get_container_client(location["details"]["azureContainerName"])
            return sorted(str(blob.name) for blob in container.list_blobs())

    def properties_direct(self, location: dict[str, Any], name: str) -> Any:
        """The blob's properties (metadata, content settings) as Azure's own client reads them."""
        with self._service() as service:
            blob = service.get_blob_client(location["details"]["azureContainerName"], name)
            return blob.get_blob_properties()

    def tags_direct(self, location: dict[str, Any], name: str) -> dict[str, str]:
        with self._service() as service:
            blob = service.get_blob_client(location["details"]["azureContainerName"], name)
            return dict(blob.get_blob_tags())

    def _service(self) -> Any:
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient(
            self.endpoint,
            credential={"account_name": ACCOUNT_NAME, "account_key": ACCOUNT_KEY},
            retry_total=0,
        )
