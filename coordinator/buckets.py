"""Bucket -> shard assignment in etcd (``buckets/<name>``).

Creating the assignment is one create-if-absent transaction, which is also what
makes bucket names unique across the whole cluster: whoever creates the key
owns the name, every other creator learns the shard already chosen.
"""

from __future__ import annotations

import json

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace, keyspace
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

DEFAULT_SHARD = "s1"


def _encode(shard: str) -> bytes:
    return json.dumps({"shard": shard}, sort_keys=True).encode("utf-8")


def _decode(raw: bytes) -> str:
    try:
        shard = json.loads(raw)["shard"]
    except (ValueError, KeyError, TypeError) as error:
        raise StrataError(ErrorReason.INTERNAL, f"malformed bucket assignment {raw!r}") from error
    return str(shard)


async def assign_bucket(
    client: EtcdClient, cluster: str | Keyspace, name: str, shard: str = DEFAULT_SHARD
) -> tuple[bool, str]:
    """Claims ``name`` for ``shard``; returns ``(True, shard)`` if this call created it, else ``(False, existing shard)``."""
    created, current = await client.create_if_absent(keyspace(cluster).bucket(name), _encode(shard))
    return created, _decode(current)


async def bucket_shard(client: EtcdClient, cluster: str | Keyspace, name: str) -> str | None:
    """The shard holding ``name``, or None if the name is free."""
    raw = await client.get(keyspace(cluster).bucket(name))
    return _decode(raw) if raw is not None else None


async def release_bucket(
    client: EtcdClient, cluster: str | Keyspace, name: str, shard: str | None = None
) -> bool:
    """Frees the name (after the bucket is deleted). With ``shard``, only if it is still assigned there."""
    key = keyspace(cluster).bucket(name)
    if shard is None:
        return await client.delete(key)
    return await client.delete_if_value(key, _encode(shard))


async def list_bucket_shards(client: EtcdClient, cluster: str | Keyspace) -> dict[str, str]:
    """Every assigned bucket name with its shard."""
    keys = keyspace(cluster)
    return {
        Keyspace.last_segment(key): _decode(raw) for key, raw in await client.get_prefix(keys.buckets_prefix)
    }
