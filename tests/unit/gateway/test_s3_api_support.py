"""docs/s3-api-support.md cannot drift from the code: every operation the router dispatches has a
row, with the request shapes the router matches, and its status agrees with the dispatch table
(supported or partial: a handler exists; not implemented: none) and with the refused-feature
rules (an operation that refuses a header is partial, and its row names that header)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from gateway.api import HANDLERS, unsupported
from gateway.s3.router import RULES, _Rule

MATRIX = Path(__file__).resolve().parents[3] / "docs" / "s3-api-support.md"
STATUSES = ("supported", "partial", "not implemented")
PATHS = {"service": "/", "bucket": "/{bucket}", "object": "/{bucket}/{key}"}


@dataclass(frozen=True)
class Row:
    operation: str
    request: str
    status: str
    notes: str


def rows() -> dict[str, Row]:
    found: dict[str, Row] = {}
    for line in MATRIX.read_text().splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) != 4 or not re.fullmatch(r"`[A-Za-z0-9]+`", cells[0]):
            continue
        operation = cells[0].strip("`")
        assert operation not in found, f"{operation} has two rows"
        found[operation] = Row(operation, cells[1], cells[2], cells[3])
    return found


def request_shape(rule: _Rule) -> str:
    shape = f"{rule.method} {PATHS[rule.level]}"
    if rule.sub_resource:
        shape += "?" + ("list-type=2" if rule.sub_resource == "list-type" else rule.sub_resource)
    if rule.needs_copy_source:
        shape += " + x-amz-copy-source"
    return f"`{shape}`"


def test_every_routed_operation_has_exactly_one_row() -> None:
    routed = {rule.operation for rule in RULES}
    documented = set(rows())
    assert routed - documented == set(), "add these operations to docs/s3-api-support.md"
    assert documented - routed == set(), "these rows name operations the router does not dispatch"


def test_each_row_shows_the_requests_the_router_matches() -> None:
    table = rows()
    for rule in RULES:
        assert request_shape(rule) in table[rule.operation].request, (rule.operation, request_shape(rule))


def test_the_status_agrees_with_the_dispatch_table() -> None:
    for row in rows().values():
        assert row.status in STATUSES, row
        if row.operation in HANDLERS:
            assert row.status in ("supported", "partial"), f"{row.operation} has a handler"
        else:
            assert row.status == "not implemented", f"{row.operation} has no handler"
            assert "`501 NotImplemented`" in row.notes, row.operation


def _names(rule: unsupported.FeatureRule, notes: str) -> bool:
    tokens = re.findall(r"`([^`]+)`", notes)
    for token in tokens:
        for header in rule.headers:
            if token == header or (token.endswith("*") and header.startswith(token[:-1])):
                return True
    return False


def test_an_operation_that_refuses_a_feature_is_partial_and_names_it() -> None:
    table = rows()
    refusing = [rule for rule in unsupported.RULES if rule.refuse is not unsupported._nothing]
    assert refusing, "the rules table was found"
    for rule in refusing:
        for operation in rule.operations:
            row = table[operation]
            assert row.status == "partial", f"{operation} refuses {rule.headers[0]}: it is partial"
            assert _names(rule, row.notes), f"the {operation} row should name {rule.headers[0]}"
