"""The etcd key layout (DESIGN section 7): the one place that builds Strata's etcd keys.

Everything lives under ``/strata/<cluster-name>/``::

    config/locations/<name>      one location, CloudServer locationConfig.json format
    config/rest_endpoints        {host: location}
    config/website_endpoints     [host, ...]
    config/settings              the remaining config.json settings
    accounts/<access-key>        one authdata.json account (JSON)
    nodes/<kind>/<id>            a live node's registration, bound to its lease
    members/<kind>/<id>          every node that ever registered (no lease: a dead node stays listed)
    shards/<id>/members          the shard's replicas
    shards/<id>/isr              the in-sync replica set
    shards/<id>/leader           the shard leader's election key
    shards/<id>/progress         the leader's replication progress (bound to its lease)
    buckets/<name>               the shard a bucket lives on
    coordinator/leader           the active coordinator's election key
    coordinator/down/<node-id>   when the coordinator first saw a datanode member not live (JSON)
    draining/<node-id>           a datanode being drained: it takes no new blob (JSON, see strata/admin/drain.py)
"""

from __future__ import annotations

from dataclasses import dataclass

ROOT = "/strata"
DEFAULT_CLUSTER = "default"

NODE_KINDS = ("gateway", "metanode", "datanode", "coordinator")


def _check_segment(what: str, segment: str) -> str:
    # A "/" inside a name would silently move the key into another part of the tree.
    if not segment or "/" in segment:
        raise ValueError(f"invalid {what} {segment!r}: must be non-empty and contain no '/'")
    return segment


@dataclass(frozen=True)
class Keyspace:
    """Builds every etcd key of one cluster."""

    cluster: str = DEFAULT_CLUSTER

    def __post_init__(self) -> None:
        _check_segment("cluster name", self.cluster)

    @property
    def root(self) -> str:
        return f"{ROOT}/{self.cluster}/"

    # config
    @property
    def locations_prefix(self) -> str:
        return f"{self.root}config/locations/"

    def location(self, name: str) -> str:
        return self.locations_prefix + _check_segment("location name", name)

    @property
    def rest_endpoints(self) -> str:
        return f"{self.root}config/rest_endpoints"

    @property
    def website_endpoints(self) -> str:
        return f"{self.root}config/website_endpoints"

    @property
    def settings(self) -> str:
        return f"{self.root}config/settings"

    # accounts
    @property
    def accounts_prefix(self) -> str:
        return f"{self.root}accounts/"

    def account(self, access_key: str) -> str:
        return self.accounts_prefix + _check_segment("access key", access_key)

    # nodes
    def nodes_prefix(self, kind: str) -> str:
        return f"{self.root}nodes/{_check_segment('node kind', kind)}/"

    def node(self, kind: str, node_id: str) -> str:
        return self.nodes_prefix(kind) + _check_segment("node id", node_id)

    def members_prefix(self, kind: str) -> str:
        return f"{self.root}members/{_check_segment('node kind', kind)}/"

    def member(self, kind: str, node_id: str) -> str:
        return self.members_prefix(kind) + _check_segment("node id", node_id)

    # shards
    @property
    def shards_prefix(self) -> str:
        return f"{self.root}shards/"

    def shard_members(self, shard_id: str) -> str:
        return f"{self.shards_prefix}{_check_segment('shard id', shard_id)}/members"

    def shard_isr(self, shard_id: str) -> str:
        return f"{self.shards_prefix}{_check_segment('shard id', shard_id)}/isr"

    def shard_leader(self, shard_id: str) -> str:
        return f"{self.shards_prefix}{_check_segment('shard id', shard_id)}/leader"

    def shard_progress(self, shard_id: str) -> str:
        return f"{self.shards_prefix}{_check_segment('shard id', shard_id)}/progress"

    @staticmethod
    def shard_of(key: str) -> str:
        """The shard id of a key under ``shards/`` (``.../shards/s1/isr`` -> ``s1``)."""
        return key.rsplit("/", 2)[-2]

    # buckets
    @property
    def buckets_prefix(self) -> str:
        return f"{self.root}buckets/"

    def bucket(self, name: str) -> str:
        return self.buckets_prefix + _check_segment("bucket name", name)

    # coordinator
    @property
    def coordinator_leader(self) -> str:
        return f"{self.root}coordinator/leader"

    @property
    def coordinator_down_prefix(self) -> str:
        return f"{self.root}coordinator/down/"

    def coordinator_down(self, node_id: str) -> str:
        return self.coordinator_down_prefix + _check_segment("node id", node_id)

    # datanodes being drained
    @property
    def draining_prefix(self) -> str:
        return f"{self.root}draining/"

    def draining(self, node_id: str) -> str:
        return self.draining_prefix + _check_segment("node id", node_id)

    @staticmethod
    def last_segment(key: str) -> str:
        """The name at the end of a key (``.../locations/us-east-1`` -> ``us-east-1``)."""
        return key.rsplit("/", 1)[-1]


def keyspace(cluster: str | Keyspace) -> Keyspace:
    """Accepts a cluster name or a ready Keyspace, so call sites can pass either."""
    return cluster if isinstance(cluster, Keyspace) else Keyspace(cluster)
