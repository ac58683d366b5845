"""The admin commands' progress bar: redrawn in place on a terminal, sparse lines elsewhere."""

from __future__ import annotations

import io

from strata.admin.progress import ProgressBar, render


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_render_fills_the_bar_in_proportion() -> None:
    assert render("shard s1", 6, 24, "blobs checked") == f"shard s1 [{'#' * 6}{'-' * 18}] 6/24 blobs checked"
    assert render("shard s1", 0, 0, "blobs checked") == f"shard s1 [{'#' * 24}] 0/0 blobs checked"


def test_a_log_gets_one_line_per_second_at_most_and_always_the_final_one() -> None:
    stream = io.StringIO()
    bar = ProgressBar("gc", stream)
    bar.update(1, 10, "entries done")
    bar.update(2, 10, "entries done")  # within the second: not written
    bar.finish(10, 10, "entries done")
    lines = stream.getvalue().splitlines()
    assert lines == [render("gc", 1, 10, "entries done"), render("gc", 10, 10, "entries done")]


def test_a_terminal_line_is_redrawn_in_place() -> None:
    stream = Terminal()
    bar = ProgressBar("repair", stream)
    bar.update(1, 2, "blobs checked")
    bar.update(1, 2, "blobs checked")  # unchanged: not redrawn
    bar.finish(2, 2, "blobs checked")
    assert stream.getvalue() == (
        "\r\x1b[K"
        + render("repair", 1, 2, "blobs checked")
        + "\r\x1b[K"
        + render("repair", 2, 2, "blobs checked")
        + "\n"
    )
