"""Docker for tests: is an engine usable, start one if we may, and build the Strata image once.

``docker_available()`` answers ``None`` when containers can run, else the reason they cannot (tests
skip with it, except under ``CI=true`` where Docker must work). ``ensure_image()`` builds the image
with ``scripts/docker-build`` when its tag is missing and returns the tag.

Everything a test creates carries :data:`TEST_LABEL`, so cleanup removes only what tests made.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import subprocess
import time
from pathlib import Path

DEFAULT_IMAGE = "strata:latest"
# docker-compose.yml's etcd and load balancer, built by scripts/docker-build beside the Strata image.
COMPOSE_IMAGES = ("strata-etcd:latest", "strata-haproxy:latest")
TEST_LABEL = "org.strata.test=1"
DOCKERD_LOG = "/tmp/dockerd.log"
DOCKERD_START_TIMEOUT_S = 30.0
REPOSITORY = Path(__file__).resolve().parents[2]
BUILD_SCRIPT = REPOSITORY / "scripts" / "docker-build"
# testcontainers cannot pull its reaper image without a registry, and this machine looks like a
# container to it: it must talk to the published ports on the docker host itself.
TESTCONTAINERS_ENV = {
    "TESTCONTAINERS_RYUK_DISABLED": "true",
    "TESTCONTAINERS_CONNECTION_MODE": "docker_host",
}


def image_tag() -> str:
    """The Strata image tests run (``STRATA_IMAGE``, default ``strata:latest``)."""
    return os.environ.get("STRATA_IMAGE", DEFAULT_IMAGE)


def _engine_answers() -> bool:
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


def _start_dockerd() -> str | None:
    """Starts dockerd in the background (there is no init system here); the reason on failure."""
    dockerd = shutil.which("dockerd")
    if dockerd is None:
        return "dockerd is not installed (apt-get install -y docker.io docker-compose iptables)"
    if os.geteuid() != 0:
        return "no Docker engine runs and only root can start dockerd"
    with open(DOCKERD_LOG, "ab") as log:
        subprocess.Popen(
            [dockerd], stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
        )
    deadline = time.monotonic() + DOCKERD_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if _engine_answers():
            return None
        time.sleep(0.25)
    tail = ""
    with contextlib.suppress(OSError):
        tail = Path(DOCKERD_LOG).read_text(errors="replace")[-800:]
    return f"dockerd did not start within {DOCKERD_START_TIMEOUT_S:.0f}s (log {DOCKERD_LOG}):\n{tail}"


@functools.cache
def docker_available() -> str | None:
    """None when the Docker engine answers (started here if needed and allowed), else why not."""
    if shutil.which("docker") is None:
        return "the docker client is not installed (apt-get install -y docker.io docker-compose iptables)"
    if _engine_answers():
        return None
    return _start_dockerd()


def compose_command() -> list[str] | None:
    """``docker-compose`` (1.29 from Debian) or the ``docker compose`` v2 plugin, whichever exists."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        if subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=20).returncode == 0:
            return ["docker", "compose"]
    return None


def image_exists(tag: str) -> bool:
    result = subprocess.run(["docker", "image", "inspect", tag], capture_output=True, timeout=60)
    return result.returncode == 0


@functools.cache
def ensure_image() -> str:
    """The Strata image's tag, built with ``scripts/docker-build`` (base image included) if missing."""
    tag = image_tag()
    if image_exists(tag):
        return tag
    _build(tag)
    return tag


@functools.cache
def ensure_compose_images() -> tuple[str, ...]:
    """Every image docker-compose.yml runs (Strata, etcd, HAProxy), built if any is missing."""
    tags = (image_tag(), *COMPOSE_IMAGES)
    if not all(image_exists(tag) for tag in tags):
        _build(image_tag())
    return tags


def _build(tag: str) -> None:
    if not BUILD_SCRIPT.exists():
        raise RuntimeError(f"image {tag} is missing and {BUILD_SCRIPT} is not there to build it")
    result = subprocess.run(
        [str(BUILD_SCRIPT)],
        cwd=REPOSITORY,
        env={**os.environ, "STRATA_IMAGE": tag},
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if result.returncode != 0 or not image_exists(tag):
        raise RuntimeError(
            f"scripts/docker-build failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}"
        )


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")
