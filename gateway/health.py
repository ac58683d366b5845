"""``/_/healthcheck``: CloudServer 7 style, one ``{code, message}`` entry per location.

The answer is HTTP 200 while the gateway can serve requests; ``status`` is ``ok``, or
``degraded`` when a location's datanodes are unreachable or blobs are short of their
replicas (each location entry then says how many and which nodes).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.context import GatewayServices
from gateway.ports import DatanodeMembership
from protos.common_pb2 import Empty
from protos.errors import StrataError

OK = "OK"


def _location_names(services: GatewayServices, datanodes: DatanodeMembership | None) -> list[str]:
    names = set(services.locations())
    if datanodes is not None:
        names.update(datanodes.locations())
    return sorted(names)


async def health_report(services: GatewayServices) -> dict[str, Any]:
    datanodes = services.datanodes
    degraded = False
    report: dict[str, Any] = {}
    try:
        repair = await services.metadata.repair_status(Empty())
        report["metadata"] = {"code": 200, "message": OK}
        under_replicated: Mapping[str, int] = dict(repair.entries_by_location)
    except StrataError as error:
        degraded = True
        report["metadata"] = {"code": 503, "message": f"metadata unreachable ({error.reason_name})"}
        under_replicated = {}
    locations: dict[str, Any] = {}
    unreachable = datanodes.unreachable() if datanodes is not None else {}
    for name in _location_names(services, datanodes):
        entry: dict[str, Any] = {"code": 200, "message": OK}
        if datanodes is not None:
            members = datanodes.members_for_location(name)
            down = unreachable.get(name, [])
            short = int(under_replicated.get(name, 0))
            if members:
                entry["datanodes"] = len(members)
                entry["unreachable"] = down
                entry["under_replicated"] = short
            problems = []
            if down:
                problems.append(f"{len(down)} of {len(members)} datanodes unreachable")
            if short:
                problems.append(f"{short} objects with blobs short of their replicas")
            if problems:
                degraded = True
                entry["message"] = "degraded: " + "; ".join(problems)
                if members and len(down) == len(members):
                    entry["code"] = 503
        locations[name] = entry
    return {"status": "degraded" if degraded else "ok", **report, "locations": locations}
