"""Container tests: the Strata image, the embedded compose file and the compose cluster, for real.

They skip, saying why, only when no Docker engine can start here; under ``CI=true`` Docker must work.
"""

from __future__ import annotations

import pytest

from strata.testing.docker import docker_available, ensure_compose_images, ensure_image, in_ci


def _require_docker() -> None:
    reason = docker_available()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"Docker must work in CI, but it cannot start: {reason}")
    pytest.skip(f"Docker cannot start here: {reason}")


@pytest.fixture(scope="session")
def strata_image() -> str:
    _require_docker()
    return ensure_image()


@pytest.fixture(scope="session")
def compose_images() -> tuple[str, ...]:
    _require_docker()
    return ensure_compose_images()
