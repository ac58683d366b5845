"""``strata admin``: operator commands against a running cluster."""

from __future__ import annotations

import argparse

from strata.admin import gc, repair, scrub


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    admin = commands.add_parser("admin", help="operator commands against a running cluster")
    actions = admin.add_subparsers(dest="admin_command", required=True)
    repair.add_command(actions)
    gc.add_command(actions)
    scrub.add_command(actions)
