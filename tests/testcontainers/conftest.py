from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def docker_image() -> str:
    """The Strata image tag, built if missing; skips (naming why) only when Docker cannot start here."""
    from strata.testing.containers import docker_unavailable_reason, strata_image
    from strata.testing.docker import in_ci

    reason = docker_unavailable_reason()
    if reason is not None:
        if in_ci():
            pytest.fail(f"Docker must work in CI: {reason}")
        pytest.skip(f"Docker cannot start here: {reason}")
    return strata_image()
