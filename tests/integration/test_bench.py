"""``strata bench`` runs with only the package's own dependencies, against a real server."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from strata.testing.embedded import EmbeddedThread

ROOT = Path(__file__).resolve().parents[2]


def main_dependency_names() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    return {
        re.split(r"[<>=!~\[ ;]", requirement, maxsplit=1)[0].lower()
        for requirement in project["dependencies"]
    }


def test_bench_needs_nothing_beyond_the_main_dependencies() -> None:
    # bench signs with botocore and sends with aiohttp; both must come with `pip install .`.
    assert {"botocore", "aiohttp"} <= main_dependency_names()


def test_bench_measures_a_running_server() -> None:
    with EmbeddedThread(backend="mem") as server:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "strata.cli",
                "bench",
                "--endpoint",
                server.url,
                "--count",
                "20",
                "--concurrency",
                "4",
                "--size",
                "1KiB",
            ],
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert done.returncode == 0, done.stdout + done.stderr
    assert re.search(r"^PUT .*\(20 ops, 0 errors", done.stdout, re.MULTILINE), done.stdout
    assert re.search(r"^GET .*\(20 ops, 0 errors", done.stdout, re.MULTILINE), done.stdout
