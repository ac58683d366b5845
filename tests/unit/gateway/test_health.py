"""``/_/healthcheck`` answers 503 when the gateway cannot reach its metadata, 200 otherwise."""

from __future__ import annotations

from typing import Any

import aiohttp
from aiohttp.test_utils import TestServer

from gateway.app import build_app
from gateway.context import GatewayServices
from gateway.s3.accounts import AccountStore
from gateway.s3.auth import Authenticator
from protos.common_pb2 import Empty, ErrorReason
from protos.errors import StrataError
from protos.metadata_pb2 import RepairStatusResponse


class _Metadata:
    def __init__(self, reachable: bool) -> None:
        self.reachable = reachable

    async def repair_status(self, request: Empty) -> RepairStatusResponse:
        if not self.reachable:
            raise StrataError(ErrorReason.BACKEND_UNAVAILABLE, "metanode unreachable")
        return RepairStatusResponse()


async def _health(reachable: bool) -> tuple[int, dict[str, Any]]:
    services = GatewayServices(
        metadata=_Metadata(reachable),  # type: ignore[arg-type]
        data=None,  # type: ignore[arg-type]
        authenticator=Authenticator(AccountStore.from_file("gateway/s3/default_authdata.json")),
        rest_endpoints=lambda: {"localhost": "us-east-1"},
        locations=lambda: {"us-east-1": {"type": "file", "legacyAwsBehavior": True, "details": {}}},
    )
    server = TestServer(build_app(services), host="127.0.0.1", port=0)
    await server.start_server()
    try:
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{server.port}/_/healthcheck") as response:
                return response.status, await response.json()
    finally:
        await server.close()


async def test_healthcheck_is_200_when_metadata_answers() -> None:
    status, report = await _health(reachable=True)
    assert status == 200 and report["status"] == "ok"


async def test_healthcheck_is_503_when_metadata_is_unreachable() -> None:
    status, report = await _health(reachable=False)
    assert status == 503
    assert report["status"] == "degraded" and report["metadata"]["code"] == 503
