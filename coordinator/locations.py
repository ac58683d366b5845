"""Location constraints in etcd, one key per location, in CloudServer's ``locationConfig.json`` format.

A location is ``{"type": ..., "legacyAwsBehavior": bool, "details": {...}}``
plus any extra fields CloudServer allows (``objectId``, ``isTransient``,
``sizeLimitGB``, ...), which are kept as they are. ``us-east-1`` must always
exist: it is where a bucket goes when nothing else decides (seed 2.7.1).

Default locations for a single-machine setup (``default_locations``):

====================  ===================================================
``us-east-1``         the backend chosen (``file`` or ``mem``)
``file``              local disk, whatever the default backend
``mem``               memory, whatever the default backend
====================  ===================================================
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace, keyspace
from coordinator.mirror import PrefixMirror
from datanode.backends.remote import remote_location_types
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

DEFAULT_LOCATION = "us-east-1"
REQUIRED_FIELDS = ("type", "legacyAwsBehavior", "details")
LOCAL_BACKENDS = ("file", "mem")
# CloudServer's external-cloud location types (DESIGN section 6), one backend module each.
REMOTE_LOCATION_TYPES = frozenset(remote_location_types())
# A location of any other type would accept writes nothing can store, so it is refused wherever
# a location config enters the system. A remote location's ``details`` are checked by its backend
# when a process that serves it starts.
SUPPORTED_LOCATION_TYPES = frozenset(LOCAL_BACKENDS) | REMOTE_LOCATION_TYPES


def _invalid(message: str) -> StrataError:
    return StrataError(ErrorReason.INVALID_ARGUMENT, message)


def validate_location(name: str, location: Any) -> None:
    """Raises StrataError(INVALID_ARGUMENT) naming the first problem with one location."""
    if not isinstance(name, str) or not name or "/" in name:
        raise _invalid(f"location name {name!r} must be a non-empty string without '/'")
    if not isinstance(location, Mapping):
        raise _invalid(f"location {name!r} must be an object")
    missing = [field for field in REQUIRED_FIELDS if field not in location]
    if missing:
        raise _invalid(f"location {name!r} is missing {', '.join(missing)}")
    location_type = location["type"]
    if not isinstance(location_type, str) or location_type not in SUPPORTED_LOCATION_TYPES:
        known = ", ".join(sorted(SUPPORTED_LOCATION_TYPES))
        raise _invalid(f"location {name!r} has unsupported type {location_type!r} (supported: {known})")
    if not isinstance(location["legacyAwsBehavior"], bool):
        raise _invalid(f"location {name!r}: legacyAwsBehavior must be true or false")
    if not isinstance(location["details"], Mapping):
        raise _invalid(f"location {name!r}: details must be an object")


def validate_locations(locations: Any) -> None:
    """Validates a whole ``locationConfig.json`` document (every location, and us-east-1 present)."""
    if not isinstance(locations, Mapping):
        raise _invalid("location config must be an object mapping location names to locations")
    for name, location in locations.items():
        validate_location(name, location)
    if DEFAULT_LOCATION not in locations:
        raise _invalid(f"location config must define {DEFAULT_LOCATION!r}")


def default_locations(backend: str = "file") -> dict[str, dict[str, Any]]:
    """A fresh default location config whose ``us-east-1`` uses ``backend`` (``file`` or ``mem``)."""
    if backend not in LOCAL_BACKENDS:
        raise _invalid(f"default backend must be one of {', '.join(LOCAL_BACKENDS)}, not {backend!r}")

    def local(location_type: str, legacy: bool) -> dict[str, Any]:
        return {"type": location_type, "legacyAwsBehavior": legacy, "details": {}}

    return {
        DEFAULT_LOCATION: local(backend, True),
        "file": local("file", False),
        "mem": local("mem", False),
    }


def _encode(location: Mapping[str, Any]) -> bytes:
    return json.dumps(location, sort_keys=True).encode("utf-8")


def _decode(key: str, raw: bytes) -> dict[str, Any]:
    location = json.loads(raw)
    validate_location(Keyspace.last_segment(key), location)
    return dict(location)


async def get_locations(client: EtcdClient, cluster: str | Keyspace) -> dict[str, dict[str, Any]]:
    """The location config as a ``locationConfig.json`` document (empty if none was stored)."""
    keys = keyspace(cluster)
    return {
        Keyspace.last_segment(key): json.loads(raw)
        for key, raw in await client.get_prefix(keys.locations_prefix)
    }


async def put_locations(
    client: EtcdClient, cluster: str | Keyspace, locations: Mapping[str, Any], *, replace: bool = True
) -> None:
    """Stores a whole location config (validated first). With ``replace``, locations not in it are removed."""
    validate_locations(locations)
    keys = keyspace(cluster)
    for name, location in locations.items():
        await client.put(keys.location(name), _encode(location))
    if replace:
        for key, _ in await client.get_prefix(keys.locations_prefix):
            if Keyspace.last_segment(key) not in locations:
                await client.delete(key)


async def put_location(
    client: EtcdClient, cluster: str | Keyspace, name: str, location: Mapping[str, Any]
) -> None:
    """Adds or replaces one location; watchers pick it up without a restart."""
    validate_location(name, location)
    await client.put(keyspace(cluster).location(name), _encode(location))


async def delete_location(client: EtcdClient, cluster: str | Keyspace, name: str) -> bool:
    """Removes one location (never us-east-1); True if it existed."""
    if name == DEFAULT_LOCATION:
        raise _invalid(f"{DEFAULT_LOCATION!r} cannot be removed")
    return await client.delete(keyspace(cluster).location(name))


async def ensure_default_locations(
    client: EtcdClient, cluster: str | Keyspace, backend: str = "file"
) -> dict[str, dict[str, Any]]:
    """Seeds the default locations if the cluster has none yet; returns the stored config."""
    keys = keyspace(cluster)
    if not await client.get_prefix(keys.locations_prefix):
        for name, location in default_locations(backend).items():
            await client.create_if_absent(keys.location(name), _encode(location))
    return await get_locations(client, keys)


class LocationWatcher:
    """The current location config, kept up to date by watching etcd."""

    def __init__(self, client: EtcdClient, cluster: str | Keyspace) -> None:
        self._mirror: PrefixMirror[dict[str, Any]] = PrefixMirror(
            client, keyspace(cluster).locations_prefix, _decode
        )

    async def start(self) -> None:
        await self._mirror.start()

    async def close(self) -> None:
        await self._mirror.close()

    async def __aenter__(self) -> LocationWatcher:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def locations(self) -> dict[str, dict[str, Any]]:
        """The whole config as ``{name: location}`` (a copy)."""
        return {Keyspace.last_segment(key): dict(value) for key, value in self._mirror.items().items()}

    def get(self, name: str) -> dict[str, Any] | None:
        return self.locations().get(name)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.locations()

    def add_listener(self, listener: Any) -> None:
        """``listener()`` runs after every change to the location config."""
        self._mirror.add_listener(listener)

    async def wait_for_location(self, name: str, timeout_s: float) -> dict[str, Any]:
        """Waits until ``name`` is configured; raises TimeoutError otherwise."""
        await self._mirror.wait_until(
            lambda items: any(Keyspace.last_segment(key) == name for key in items), timeout_s
        )
        location = self.get(name)
        assert location is not None
        return location
