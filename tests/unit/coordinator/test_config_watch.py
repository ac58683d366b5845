"""A gateway's live view of the stored configuration (coordinator/config_watch.py), on a real etcd."""

from __future__ import annotations

import asyncio

from coordinator.config_io import import_config
from coordinator.config_watch import ConfigWatcher
from coordinator.etcd import EtcdClient


async def _until(condition, timeout_s: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not condition():
        assert asyncio.get_running_loop().time() < deadline, "the watcher never saw the change"
        await asyncio.sleep(0.02)


async def test_website_endpoints_are_followed_live(client: EtcdClient, cluster: str) -> None:
    watcher = ConfigWatcher(client, cluster)
    await watcher.start()
    try:
        assert watcher.website_endpoints() is None
        await import_config(client, cluster, {"websiteEndpoints": ["Sites.Example.Test"]})
        await _until(lambda: watcher.website_endpoints() == ("sites.example.test",))
        await import_config(client, cluster, {"websiteEndpoints": []})
        await _until(lambda: watcher.website_endpoints() == ())
        await import_config(client, cluster, {})
        await _until(lambda: watcher.website_endpoints() is None)
    finally:
        await watcher.close()
