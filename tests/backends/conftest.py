"""The conformance suite's servers: each emulator starts once per session, on first use.

``pytest tests/backends -k azure`` runs one backend. A server that cannot run here fails
the tests under ``CI=true`` and skips them, naming what to install, elsewhere.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from datanode.backends.remote import RemoteBackend, create_remote
from strata.testing.emulators import Emulator, EmulatorMissing, load_emulator, selected_emulators

_started: dict[str, Emulator] = {}


@pytest.fixture(scope="session")
def emulators() -> Iterator[dict[str, Emulator]]:
    yield _started
    for emulator in _started.values():
        emulator.close()
    _started.clear()


@pytest.fixture(params=selected_emulators())
def emulator(request: pytest.FixtureRequest, emulators: dict[str, Emulator]) -> Emulator:
    emulator_id: str = request.param
    if emulator_id not in emulators:
        try:
            started = load_emulator(emulator_id)
            started.start()
        except EmulatorMissing as missing:
            if os.environ.get("CI") == "true":
                pytest.fail(f"{emulator_id}: {missing}")
            pytest.skip(f"{emulator_id}: {missing}")
        emulators[emulator_id] = started
    return emulators[emulator_id]


@pytest.fixture(params=[True, False], ids=["bucketMatch", "bucketPrefix"])
def bucket_match(request: pytest.FixtureRequest) -> bool:
    return bool(request.param)


@pytest.fixture
def wants_versions() -> bool:
    """Whether the location's container should keep earlier versions (parametrize to ask for it)."""
    return False


@pytest.fixture
def location(emulator: Emulator, bucket_match: bool, wants_versions: bool) -> dict[str, Any]:
    return emulator.location(bucket_match=bucket_match, versioned=wants_versions)


@pytest.fixture
async def backend(location: dict[str, Any]) -> AsyncIterator[RemoteBackend]:
    remote = create_remote("test-location", location)
    try:
        yield remote
    finally:
        await remote.close()
