"""The cluster configuration a gateway serves, followed live in etcd: accounts, restEndpoints and
websiteEndpoints.

``strata config import`` writes these keys; every running gateway sees the change
within a watch round trip, with no restart.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from coordinator.config_io import authdata_document
from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace, keyspace
from coordinator.mirror import PrefixMirror


def _json(key: str, raw: bytes) -> Any:
    return json.loads(raw)


class ConfigWatcher:
    """Live copies of ``accounts/``, ``config/rest_endpoints`` and ``config/website_endpoints``."""

    def __init__(self, client: EtcdClient, cluster: str | Keyspace) -> None:
        keys = keyspace(cluster)
        self._rest_endpoints_key = keys.rest_endpoints
        self._accounts: PrefixMirror[dict[str, Any]] = PrefixMirror(client, keys.accounts_prefix, _json)
        # A prefix mirror of the one key (nothing else starts with its name).
        self._rest_endpoints: PrefixMirror[Any] = PrefixMirror(client, keys.rest_endpoints, _json)
        self._website_endpoints_key = keys.website_endpoints
        self._website_endpoints: PrefixMirror[Any] = PrefixMirror(client, keys.website_endpoints, _json)

    async def start(self) -> None:
        await self._accounts.start()
        await self._rest_endpoints.start()
        await self._website_endpoints.start()

    async def close(self) -> None:
        await self._website_endpoints.close()
        await self._rest_endpoints.close()
        await self._accounts.close()

    def authdata(self) -> dict[str, Any]:
        """The stored accounts as an ``authdata.json`` document (``accounts`` empty when none)."""
        return authdata_document(list(self._accounts.items().values()))

    def rest_endpoints(self) -> dict[str, str] | None:
        """The stored ``restEndpoints``, or None when none are stored."""
        value = self._rest_endpoints.get(self._rest_endpoints_key)
        return dict(value) if isinstance(value, dict) else None

    def website_endpoints(self) -> tuple[str, ...] | None:
        """The stored ``websiteEndpoints``, or None when none are stored."""
        value = self._website_endpoints.get(self._website_endpoints_key)
        if not isinstance(value, list):
            return None
        return tuple(name.strip().lower() for name in value if isinstance(name, str) and name.strip())

    def on_accounts_change(self, listener: Callable[[], None]) -> None:
        self._accounts.add_listener(listener)
