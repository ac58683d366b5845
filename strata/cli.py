"""The ``strata`` command: embedded server, local cluster, cluster roles, configuration, benchmark.

A command that cannot start raises ``StartupError`` (or a subclass such as
``SettingsError``); ``main`` turns it into one line on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from importlib import metadata

from strata.runtime.errors import STARTUP_EXIT_CODE, StartupError
from strata.runtime.log import setup_logging
from strata.settings import load_server_settings


def _server(args: argparse.Namespace) -> int:
    from strata.embedded import serve_forever

    setup_logging("server", json_lines=args.json_logs)
    settings = load_server_settings(backend=args.backend, host=args.host, port=args.port)
    asyncio.run(serve_forever(settings, metrics_listen=args.metrics_listen))
    return 0


def version() -> str:
    try:
        return metadata.version("strata")
    except metadata.PackageNotFoundError:
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="strata", description="S3-compatible object storage.")
    parser.add_argument("--version", action="version", version=f"strata {version()}")
    commands = parser.add_subparsers(dest="command", required=True)

    server = commands.add_parser("server", help="run the embedded all-in-one S3 server")
    server.add_argument(
        "--backend",
        choices=("file", "mem"),
        default=None,
        help="file (./localData, ./localMetadata; default) or mem (S3BACKEND)",
    )
    server.add_argument(
        "--port", default=None, help="S3 port (default: config.json's port, else 8000; 0 picks a free one)"
    )
    server.add_argument(
        "--host",
        default=None,
        help="listen address (LISTEN_ADDR; default 127.0.0.1; 0.0.0.0 listens on every address)",
    )
    server.add_argument(
        "--json-logs",
        action="store_true",
        default=None,
        help="log JSON lines (default: JSON unless stderr is a terminal)",
    )
    # ---- metrics ----
    server.add_argument(
        "--metrics-listen",
        default=os.environ.get("STRATA_METRICS_LISTEN") or None,
        help="HOST:PORT serving /metrics, /live and /ready (STRATA_METRICS_LISTEN; default: off)",
    )
    server.set_defaults(run=_server)

    from strata import admin, bench, cluster_cli, location_cli, roles

    roles.add_role_commands(commands)
    cluster_cli.add_commands(commands)
    bench.add_commands(commands)
    admin.add_commands(commands)
    location_cli.add_commands(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args) or 0)
    except StartupError as error:
        print(f"strata: {error}", file=sys.stderr)
        return STARTUP_EXIT_CODE
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
