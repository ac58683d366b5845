"""``NodeInfo``: how the data path addresses one datanode (the datanode client's own type when present)."""

from __future__ import annotations

from dataclasses import dataclass

try:
    from datanode.client import NodeInfo
except ImportError:  # the datanode client is optional for control-plane-only use

    @dataclass(frozen=True)
    class NodeInfo:  # type: ignore[no-redef]
        node_id: str
        address: str
        location: str


__all__ = ["NodeInfo"]
