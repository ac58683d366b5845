"""The admin commands' plain tables: aligned columns, numbers to the right, empty cells shown."""

from __future__ import annotations

from strata.admin.output import format_table


def test_columns_are_aligned_and_numbers_right_justified() -> None:
    lines = format_table(("NAME", "OBJECTS", "OK"), [("a-long-name", 5, True), ("b", 12345, None)])
    assert lines == [
        "NAME         OBJECTS  OK",
        "a-long-name        5  yes",
        "b              12345  -",
    ]


def test_a_table_without_rows_is_its_header() -> None:
    assert format_table(("NAME", "BYTES"), []) == ["NAME  BYTES"]
