"""The coordinator's HTTP probe port: ``/live`` (the process answers), ``/ready`` (its role) and
``/metrics`` (Prometheus).

``/ready`` answers 200 with ``{"node_id": ..., "leading": true|false}``: a standby is ready too,
it is waiting to take over.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp import web

from strata.runtime.metrics import metrics_handler


async def start_probe_server(
    host: str, port: int, node_id: str, leading: Callable[[], bool]
) -> web.AppRunner:
    async def live(request: web.Request) -> web.Response:
        return web.json_response({"status": "ok"})

    async def ready(request: web.Request) -> web.Response:
        return web.json_response({"node_id": node_id, "leading": leading()})

    app = web.Application()
    app.router.add_get("/live", live)
    app.router.add_get("/ready", ready)
    app.router.add_get("/metrics", metrics_handler)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
