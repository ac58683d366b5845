"""A one-line progress bar on stderr for long admin commands (a plain line now and then when not a terminal)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

_WIDTH = 30
_PLAIN_LINE_INTERVAL_S = 5.0


class ProgressBar:
    def __init__(self, label: str, stream: TextIO | None = None) -> None:
        self._label = label
        self._stream = stream or sys.stderr
        self._interactive = self._stream.isatty()
        self._last_plain = 0.0
        self._drawn = False

    def update(self, done: int, total: int, detail: str = "") -> None:
        fraction = min(done / total, 1.0) if total else 0.0
        filled = round(fraction * _WIDTH)
        line = (
            f"{self._label} [{'#' * filled}{'.' * (_WIDTH - filled)}] {fraction:4.0%} {done}/{total} {detail}"
        )
        if self._interactive:
            self._stream.write("\r" + line.ljust(100))
            self._stream.flush()
            self._drawn = True
        elif time.monotonic() - self._last_plain >= _PLAIN_LINE_INTERVAL_S:
            self._last_plain = time.monotonic()
            print(line, file=self._stream, flush=True)

    def finish(self) -> None:
        if self._drawn:
            self._stream.write("\n")
            self._stream.flush()


def human_bytes(count: int) -> str:
    size = float(count)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if size < 1000 or unit == "TB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1000
    raise AssertionError("unreachable")
