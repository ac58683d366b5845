"""The etcd key layout of DESIGN section 7."""

from __future__ import annotations

import pytest

from coordinator.keyspace import Keyspace, keyspace


def test_every_key_lives_under_the_cluster_root() -> None:
    keys = Keyspace("prod")
    assert keys.location("us-east-1") == "/strata/prod/config/locations/us-east-1"
    assert keys.rest_endpoints == "/strata/prod/config/rest_endpoints"
    assert keys.website_endpoints == "/strata/prod/config/website_endpoints"
    assert keys.settings == "/strata/prod/config/settings"
    assert keys.account("accessKey1") == "/strata/prod/accounts/accessKey1"
    assert keys.node("datanode", "dn1") == "/strata/prod/nodes/datanode/dn1"
    assert keys.shard_members("s1") == "/strata/prod/shards/s1/members"
    assert keys.shard_isr("s1") == "/strata/prod/shards/s1/isr"
    assert keys.shard_leader("s1") == "/strata/prod/shards/s1/leader"
    assert keys.bucket("photos") == "/strata/prod/buckets/photos"
    assert keys.coordinator_leader == "/strata/prod/coordinator/leader"
    assert keys.location("x").startswith(keys.locations_prefix)
    assert keys.node("gateway", "g").startswith(keys.nodes_prefix("gateway"))


def test_prefixes_of_different_clusters_and_kinds_do_not_overlap() -> None:
    assert not Keyspace("a").node("x", "1").startswith(Keyspace("ab").root[:-1] + "/")
    assert not Keyspace("prod").node("datanodes", "1").startswith(Keyspace("prod").nodes_prefix("datanode"))


@pytest.mark.parametrize("bad", ["", "a/b"])
def test_names_that_would_escape_their_place_are_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        Keyspace(bad)
    with pytest.raises(ValueError):
        Keyspace("prod").bucket(bad)
    with pytest.raises(ValueError):
        Keyspace("prod").node("datanode", bad)


def test_keyspace_accepts_a_name_or_a_keyspace() -> None:
    keys = Keyspace("prod")
    assert keyspace(keys) is keys
    assert keyspace("prod") == keys
    assert Keyspace.last_segment(keys.location("us-east-1")) == "us-east-1"
