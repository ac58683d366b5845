"""``python3 -m strata.healthcheck``: the image's check asks the role's /ready on its probe port."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from collections.abc import Iterator

import pytest
from aiohttp import web

from strata.healthcheck import main, probe_url
from strata.runtime.metrics import add_probe_routes
from strata.testing.etcd import free_port


def test_the_probe_port_is_asked_when_there_is_one_else_the_s3_port() -> None:
    assert probe_url({"STRATA_METRICS_LISTEN": "0.0.0.0:9100"}) == "http://127.0.0.1:9100/ready"
    assert probe_url({"STRATA_METRICS_LISTEN": "10.1.2.3:9200"}) == "http://10.1.2.3:9200/ready"
    assert probe_url({"STRATA_METRICS_LISTEN": "[::1]:9100"}) == "http://[::1]:9100/ready"
    assert probe_url({"STRATA_METRICS_LISTEN": "[::]:9100"}) == "http://127.0.0.1:9100/ready"
    assert probe_url({}) == "http://127.0.0.1:8000/_/healthcheck"
    assert probe_url({"STRATA_HEALTHCHECK_PORT": "9000"}) == "http://127.0.0.1:9000/_/healthcheck"


@pytest.fixture
def probe_port() -> Iterator[tuple[int, dict[str, bool]]]:
    """A real probe port whose readiness the test flips."""
    state = {"ready": True}

    async def readiness() -> tuple[bool, dict[str, object]]:
        return state["ready"], {"why": "flipped by the test"}

    port = free_port()
    loop = asyncio.new_event_loop()
    started = threading.Event()
    runner_box: list[web.AppRunner] = []

    async def serve() -> None:
        app = web.Application()
        add_probe_routes(app, readiness)
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        runner_box.append(runner)
        started.set()

    thread = threading.Thread(
        target=lambda: (loop.run_until_complete(serve()), loop.run_forever()), daemon=True
    )
    thread.start()
    assert started.wait(10)
    try:
        yield port, state
    finally:
        asyncio.run_coroutine_threadsafe(runner_box[0].cleanup(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)


def test_exit_status_follows_ready(
    probe_port: tuple[int, dict[str, bool]], capsys: pytest.CaptureFixture[str]
) -> None:
    port, state = probe_port
    assert main([f"http://127.0.0.1:{port}/ready"]) == 0
    assert '"ready": true' in capsys.readouterr().out
    state["ready"] = False
    assert main([f"http://127.0.0.1:{port}/ready"]) == 1
    assert "503" in capsys.readouterr().out
    assert main([f"http://127.0.0.1:{free_port()}/ready"]) == 1  # nothing listens: unhealthy


def test_the_module_runs_as_docker_runs_it(probe_port: tuple[int, dict[str, bool]]) -> None:
    port, _ = probe_port
    env = {"STRATA_METRICS_LISTEN": f"0.0.0.0:{port}", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(
        [sys.executable, "-m", "strata.healthcheck"], env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
