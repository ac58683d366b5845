"""A one-line progress bar for long admin operations, drawn on stderr.

On a terminal the line is redrawn in place; elsewhere (a log, a pipe) a line is written only when
the figures change, at most once a second, so the output stays readable. ``finish`` always writes
the final line. A bar made with ``enabled=False`` (``--json``) draws nothing.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

WIDTH = 24
MIN_INTERVAL_S = 1.0


def render(label: str, done: int, total: int, details: str) -> str:
    fraction = min(1.0, done / total) if total > 0 else 1.0
    filled = round(fraction * WIDTH)
    return f"{label} [{'#' * filled}{'-' * (WIDTH - filled)}] {done}/{total} {details}"


class ProgressBar:
    def __init__(self, label: str, stream: TextIO | None = None, *, enabled: bool = True) -> None:
        self._enabled = enabled
        self._label = label
        self._stream = stream or sys.stderr
        self._interactive = self._stream.isatty()
        self._last_line = ""
        self._last_write = 0.0

    def update(self, done: int, total: int, details: str) -> None:
        line = render(self._label, done, total, details)
        if not self._enabled or line == self._last_line:
            return
        now = time.monotonic()
        if self._interactive:
            self._stream.write("\r\x1b[K" + line)
        elif now - self._last_write >= MIN_INTERVAL_S:
            self._stream.write(line + "\n")
        else:
            return
        self._stream.flush()
        self._last_line, self._last_write = line, now

    def finish(self, done: int | None = None, total: int | None = None, details: str = "") -> None:
        """Writes the final line: these figures, or the last ones drawn."""
        line = (
            render(self._label, done, total, details)
            if done is not None and total is not None
            else self._last_line
        )
        if not line or not self._enabled:
            return
        self._stream.write(("\r\x1b[K" if self._interactive else "") + line + "\n")
        self._stream.flush()
        self._last_line = line


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
