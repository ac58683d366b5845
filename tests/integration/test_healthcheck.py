"""``/_/healthcheck`` of the embedded server: CloudServer-style per-location entries."""

from __future__ import annotations

import json
import urllib.request

from strata.testing.embedded import EmbeddedThread


def test_embedded_healthcheck_lists_every_location_as_ok(server: EmbeddedThread) -> None:
    with urllib.request.urlopen(server.url + "/_/healthcheck", timeout=10) as response:
        assert response.status == 200
        report = json.loads(response.read())
    assert report["status"] == "ok"
    assert report["metadata"] == {"code": 200, "message": "OK"}
    assert set(report["locations"]) == set(server.settings.locations)
    assert all(entry == {"code": 200, "message": "OK"} for entry in report["locations"].values())
