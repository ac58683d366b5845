"""The servers compat flows run against: the embedded server and a real local cluster (one per module).

Import ``endpoint`` into a test module to run each of its tests against both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster
from strata.testing.embedded import EmbeddedThread

# Clients upload in one request below this size; multipart uploads are exercised elsewhere.
SINGLE_PART_LIMIT = 8 * 1024 * 1024
# Every client runs against a local cluster with STRATA_SLOW=1; the default run keeps one of them
# there (the cluster's gateway is the same code as the embedded server's; boto3 covers the rest).
CLUSTER_IN_EVERY_RUN = frozenset({"tests.compat.test_awscli_v2"})


@pytest.fixture(scope="module", params=["embedded", "cluster"])
def endpoint(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The S3 URL of a running server (http://127.0.0.1:PORT)."""
    if (
        request.param == "cluster"
        and os.environ.get("STRATA_SLOW") != "1"
        and request.module.__name__ not in CLUSTER_IN_EVERY_RUN
    ):
        pytest.skip(
            "this client against a local cluster runs with STRATA_SLOW=1 (test_awscli_v2 runs in every run)"
        )
    workdir: Path = tmp_path_factory.mktemp(request.param)
    if request.param == "embedded":
        with EmbeddedThread(backend="file", root=workdir) as running:
            yield running.url
    else:
        spec = ClusterSpec(gateway_base_port=None, gc_interval_s=3600.0, intent_ttl_s=3600.0)
        with LocalCluster(workdir, spec) as cluster:
            yield cluster.gateway_urls[0]
