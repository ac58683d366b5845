"""examples/testcontainers, run exactly as its user would run it: against LocalCluster and StrataContainer."""

from __future__ import annotations

import pytest

from tests.testcontainers.suite_runner import REPOSITORY, SUITE_TIMEOUT_S, run_suite

EXAMPLE = REPOSITORY / "examples" / "testcontainers"
EXAMPLE_TESTS = 5


@pytest.mark.timeout(SUITE_TIMEOUT_S)
@pytest.mark.cluster
def test_example_suite_passes_against_a_local_cluster() -> None:
    outcome = run_suite(EXAMPLE, {"STRATA_EXAMPLE_TARGET": "local"})

    assert outcome.returncode == 0, outcome.output[-6000:]
    assert outcome.counts == {"passed": EXAMPLE_TESTS}, outcome.output[-3000:]


@pytest.mark.timeout(SUITE_TIMEOUT_S)
def test_example_suite_passes_against_the_strata_container(docker_image: str) -> None:
    outcome = run_suite(EXAMPLE, {"STRATA_EXAMPLE_TARGET": "container", "STRATA_IMAGE": docker_image})

    assert outcome.returncode == 0, outcome.output[-6000:]
    assert outcome.counts == {"passed": EXAMPLE_TESTS}, outcome.output[-3000:]
