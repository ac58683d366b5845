"""How admin commands print: aligned plain columns for people, one JSON document with ``--json``.

Tables are plain text (no colour, no box drawing) so they read the same in a terminal, a pipe
and a log; numbers are right-aligned.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, TextIO

Cell = str | int | float | bool | None


def _text(value: Cell) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def format_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]]) -> list[str]:
    """The lines of a table: a header row, then one row each, columns padded to their widest cell."""
    texts = [[_text(cell) for cell in row] for row in rows]
    widths = [max([len(header), *(len(row[index]) for row in texts)]) for index, header in enumerate(headers)]
    numeric = [
        bool(rows)
        and all(isinstance(row[index], int | float) and not isinstance(row[index], bool) for row in rows)
        for index in range(len(headers))
    ]

    def line(cells: Sequence[str]) -> str:
        padded = [
            cell.rjust(width) if is_number else cell.ljust(width)
            for cell, width, is_number in zip(cells, widths, numeric, strict=True)
        ]
        return "  ".join(padded).rstrip()

    return [line(list(headers)), *(line(row) for row in texts)]


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Cell]], stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    for text in format_table(headers, rows):
        out.write(text + "\n")


def print_json(document: Mapping[str, Any] | Sequence[Any], stream: TextIO | None = None) -> None:
    out = stream or sys.stdout
    out.write(json.dumps(document, indent=2, sort_keys=True) + "\n")


def add_json_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--json", action="store_true", help="print one JSON document for scripts instead of text"
    )


def run_command(label: str, work: Coroutine[Any, Any, int]) -> int:
    """Runs one admin command; a cluster error becomes one line on stderr and exit status 1."""
    from protos.errors import StrataError

    try:
        return int(asyncio.run(work))
    except StrataError as error:
        print(f"strata admin {label}: {error.reason_name}: {error.message}", file=sys.stderr)
        return 1
