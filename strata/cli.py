"""The ``strata`` command: embedded server, local cluster, cluster roles, configuration, benchmark."""

from __future__ import annotations

import argparse
import asyncio
import sys

from strata.runtime.log import setup_logging
from strata.settings import SettingsError, load_server_settings


def _server(args: argparse.Namespace) -> int:
    from strata.embedded import serve_forever

    setup_logging("server", json_lines=args.json_logs)
    try:
        settings = load_server_settings(backend=args.backend, host=args.host, port=args.port)
    except SettingsError as error:
        print(f"strata server: {error}", file=sys.stderr)
        return 2
    asyncio.run(serve_forever(settings))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="strata", description="S3-compatible object storage.")
    commands = parser.add_subparsers(dest="command", required=True)

    server = commands.add_parser("server", help="run the embedded all-in-one S3 server")
    server.add_argument(
        "--backend",
        choices=("file", "mem"),
        default=None,
        help="file (./localData, ./localMetadata; default) or mem",
    )
    server.add_argument("--port", type=int, default=None, help="S3 port (default 8000)")
    server.add_argument("--host", default=None, help="listen address (default 0.0.0.0)")
    server.add_argument("--json-logs", action="store_true", default=None, help="JSON log lines")
    server.set_defaults(run=_server)

    from strata import admin, bench, cluster_cli, roles

    roles.add_role_commands(commands)
    cluster_cli.add_commands(commands)
    bench.add_commands(commands)
    admin.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
