"""``strata admin``: operator commands against a running cluster."""

from __future__ import annotations

import argparse

from strata.admin import buckets, config, drain, gc, metadata, objects, repair, scrub


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    from strata import location_cli

    admin = commands.add_parser("admin", help="operator commands against a running cluster")
    actions = admin.add_subparsers(dest="admin_command", required=True)
    buckets.add_commands(actions)
    objects.add_commands(actions)
    config.add_commands(actions)
    location_cli.add_location_parser(actions)
    drain.add_commands(actions)
    metadata.add_commands(actions)
    repair.add_command(actions)
    gc.add_command(actions)
    scrub.add_command(actions)
