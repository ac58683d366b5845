from __future__ import annotations

from collections.abc import Iterator

import pytest

from strata.localcluster import ClusterSpec
from strata.testing.cluster import LocalCluster

pytestmark = pytest.mark.cluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    workdir = tmp_path_factory.mktemp("cluster")
    # Garbage collection runs on demand in these tests (RunGc), not on a timer.
    spec = ClusterSpec(gateway_base_port=None, gc_interval_s=3600.0, intent_ttl_s=3600.0)
    with LocalCluster(workdir, spec) as running:
        yield running
