"""A small tmpfs the test mounts itself: a real filesystem that fills up (ENOSPC) at a known size."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def _unavailable(why: str) -> None:
    # Under CI the full-disk tests must run; elsewhere say what they need.
    if os.environ.get("CI") == "true":
        pytest.fail(f"full-disk tests need a tmpfs mount: {why}")
    pytest.skip(f"full-disk tests need a tmpfs mount: {why} (run the tests as root)")


@contextmanager
def mounted_tmpfs(path: Path, size: str) -> Iterator[Path]:
    """Mounts a tmpfs of ``size`` (``mount -o size=...``: e.g. ``4m``) on ``path`` for the block."""
    if os.geteuid() != 0:
        _unavailable("mounting needs root")
    path.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True
    )
    if mounted.returncode != 0:
        _unavailable(f"mount failed: {mounted.stderr.strip()}")
    try:
        yield path
    finally:
        # Lazy: a process that still has a file open there must not keep the mount alive.
        subprocess.run(["umount", "-l", str(path)], check=False, capture_output=True)


def fill(path: Path, leave_bytes: int = 0) -> None:
    """Writes a filler file under ``path`` until its filesystem has at most ``leave_bytes`` free."""
    stat = os.statvfs(path)
    free = stat.f_bavail * stat.f_frsize
    with open(path / "filler", "wb") as filler:
        try:
            filler.write(b"\0" * max(free - leave_bytes, 0))
            filler.flush()
        except OSError:
            pass  # full already: that is the point
