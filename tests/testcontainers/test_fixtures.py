"""The plugin's strata_server and strata_cluster fixtures, used from a suite of their own (a subprocess)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.testcontainers.suite_runner import SUITE_TIMEOUT_S, run_suite

USER_SUITE = """
from strata.testing.running import RunningStrata


def test_server_fixture_serves_s3(strata_server: RunningStrata) -> None:
    s3 = strata_server.boto3_client()
    s3.create_bucket(Bucket="from-fixture")
    s3.put_object(Bucket="from-fixture", Key="k", Body=b"v")
    assert s3.get_object(Bucket="from-fixture", Key="k")["Body"].read() == b"v"


def test_server_fixture_is_shared_by_the_session(strata_server: RunningStrata) -> None:
    names = [b["Name"] for b in strata_server.boto3_client().list_buckets()["Buckets"]]
    assert names == ["from-fixture"]


def test_cluster_fixture_serves_s3(strata_cluster: RunningStrata) -> None:
    s3 = strata_cluster.boto3_client()
    s3.create_bucket(Bucket="on-the-cluster")
    s3.put_object(Bucket="on-the-cluster", Key="k", Body=b"v" * 100_000)
    assert s3.get_object(Bucket="on-the-cluster", Key="k")["Body"].read() == b"v" * 100_000
    assert strata_cluster.endpoint_url != ""


def test_reports_what_runs_strata(strata_server: RunningStrata, strata_cluster: RunningStrata) -> None:
    print("KINDS", type(strata_server).__name__, type(strata_cluster).__name__)
"""


def _write_suite(directory: Path) -> Path:
    (directory / "test_user_suite.py").write_text(USER_SUITE)
    (directory / "pytest.ini").write_text("[pytest]\n")
    return directory


@pytest.mark.timeout(SUITE_TIMEOUT_S)
@pytest.mark.cluster
def test_fixtures_run_processes_by_default(tmp_path: Path) -> None:
    outcome = run_suite(_write_suite(tmp_path), {}, "-s", "-p", "strata.testing.pytest_plugin")

    assert outcome.returncode == 0, outcome.output[-6000:]
    assert outcome.counts == {"passed": 4}, outcome.output[-3000:]
    assert "KINDS StrataServerProcess LocalCluster" in outcome.output


@pytest.mark.timeout(SUITE_TIMEOUT_S)
def test_fixtures_run_containers_when_asked(tmp_path: Path, docker_image: str) -> None:
    outcome = run_suite(
        _write_suite(tmp_path),
        {"STRATA_IMAGE": docker_image},
        "-s",
        "-p",
        "strata.testing.pytest_plugin",
        "--strata-target=containers",
    )

    assert outcome.returncode == 0, outcome.output[-6000:]
    assert outcome.counts == {"passed": 4}, outcome.output[-3000:]
    assert "KINDS StrataContainer StrataClusterContainers" in outcome.output


@pytest.mark.timeout(SUITE_TIMEOUT_S)
def test_an_unknown_target_is_a_usage_error(tmp_path: Path) -> None:
    outcome = run_suite(
        _write_suite(tmp_path), {"STRATA_TEST_TARGET": "vm"}, "-p", "strata.testing.pytest_plugin"
    )

    assert outcome.returncode != 0
    assert "STRATA_TEST_TARGET must be one of process, containers" in outcome.output
