"""Real servers and emulators of the external locations, for tests: one module per server.

Each module has one class implementing :class:`Emulator`: it starts the server as a
process on free 127.0.0.1 ports (``start``), stops it by pid (``stop``; ``start`` again
comes back on the same port with the same data), hands out location entries for fresh
containers on it, and reads what landed there with the provider's own client, so tests
can check the data independently of Strata's adapter.

A missing server binary raises :class:`EmulatorMissing` with the install command; the
test suite turns that into a failure under ``CI=true`` and a skip naming the command
elsewhere.
"""

from __future__ import annotations

import importlib
import os
from typing import Any, Protocol

EMULATORS: dict[str, str] = {
    # id: "module:Class"; the id names the emulator, its location_type the backend it serves.
    "aws_s3-moto": "strata.testing.emulators.moto:MotoEmulator",
    "aws_s3-strata": "strata.testing.emulators.strata_s3:StrataS3Emulator",
    "aws_s3-swift": "strata.testing.emulators.swift:SwiftS3Emulator",
    "azure-azurite": "strata.testing.emulators.azurite:AzuriteEmulator",
    "gcp-fakegcs": "strata.testing.emulators.fake_gcs:FakeGcsEmulator",
    "b2-simulator": "strata.testing.emulators.b2_simulator:B2SimulatorEmulator",
    "swift-swift": "strata.testing.emulators.swift:SwiftEmulator",
}


def selected_emulators() -> list[str]:
    """The emulator ids the suites run: all, or those ``STRATA_EMULATORS`` lists (comma-separated)."""
    wanted = [name.strip() for name in os.environ.get("STRATA_EMULATORS", "").split(",") if name.strip()]
    unknown = sorted(set(wanted) - set(EMULATORS))
    if unknown:
        raise ValueError(f"STRATA_EMULATORS names unknown emulators {unknown}; known: {sorted(EMULATORS)}")
    return sorted(wanted or EMULATORS)


class EmulatorMissing(RuntimeError):
    """The server cannot run here: its message says what to install."""


class Emulator(Protocol):
    location_type: str  # the locationConfig type whose backend this server exercises
    checks_credentials: bool  # False when the server accepts any credentials (then bad ones are not testable)

    def start(self) -> None:
        """Starts the server (waits until it answers); after ``stop()``, on the same port with the same data."""
        ...

    def stop(self) -> None:
        """Stops the server process (by pid), keeping its data for ``start()``."""
        ...

    def close(self) -> None:
        """Stops the server and removes everything it stored."""
        ...

    def location(self, *, bucket_match: bool, versioned: bool = False) -> dict[str, Any]:
        """A locationConfig entry (``type``, ``legacyAwsBehavior``, ``details``) for a fresh, empty container.

        ``versioned`` asks for a container that keeps earlier versions where this server can make
        one (an S3 bucket with versioning on); elsewhere it changes nothing.
        """
        ...

    def with_bad_credentials(self, location: dict[str, Any]) -> dict[str, Any]:
        """The same location with credentials the server refuses."""
        ...

    def read_direct(self, location: dict[str, Any], name: str) -> bytes | None:
        """The current content of object ``name`` in the location's container, read with the provider's client."""
        ...

    def names_direct(self, location: dict[str, Any]) -> list[str]:
        """Every object name in the location's container (current versions only), sorted."""
        ...


def load_emulator(emulator_id: str) -> Emulator:
    module_name, _, class_name = EMULATORS[emulator_id].partition(":")
    module = importlib.import_module(module_name)
    emulator: Emulator = getattr(module, class_name)()
    return emulator
