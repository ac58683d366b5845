"""``strata location list|test|add``: the locations data can go to, and whether each one works.

The locations come from the cluster's etcd (``--etcd``, or the local cluster's; as the admin
commands find it) or, with ``--file``, from a ``locationConfig.json`` (the embedded server's).
``test`` checks an external location the way a datanode would use it: its details, that it
answers, that the credentials work, and with ``--write`` a small object written, read back and
deleted. Nothing printed ever shows a credential.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import sys
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from datanode.backends.blobs import describe_problem
from datanode.backends.remote import ObjectMeta, create_remote, is_remote
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

SECRET_WORDS = ("key", "secret", "password", "credential", "token")
_ADVICE: dict[int, str] = {
    ErrorReason.BACKEND_UNAVAILABLE: "check the endpoint, the network path to it, and that the bucket/container exists",
    ErrorReason.BACKEND_AUTH: "the provider refused the credentials: check the account, key and its permissions",
    ErrorReason.BACKEND_THROTTLED: "the provider asks to slow down; try again later",
    ErrorReason.INVALID_ARGUMENT: "fix the location's details",
}


def public_details(details: Mapping[str, Any]) -> dict[str, Any]:
    """A location's details without anything that looks like a secret."""
    shown: dict[str, Any] = {}
    for name, value in details.items():
        if any(word in name.lower() for word in SECRET_WORDS):
            shown[name] = "***"
        elif isinstance(value, Mapping):
            shown[name] = public_details(value)
        else:
            shown[name] = value
    return shown


async def _load(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    if args.file:
        document = json.loads(await asyncio.to_thread(Path(args.file).read_text))
        if not isinstance(document, dict):
            raise StrataError(
                ErrorReason.INVALID_ARGUMENT, f"{args.file} is not a locationConfig.json object"
            )
        return document
    from coordinator.etcd import EtcdClient
    from coordinator.locations import get_locations
    from strata.admin.target import etcd_endpoint

    client = await EtcdClient.connect(etcd_endpoint(args))
    try:
        return await get_locations(client, args.cluster)
    finally:
        await client.close()


def _list(args: argparse.Namespace) -> int:
    locations = asyncio.run(_load(args))
    if args.json:
        shown = {
            name: {**config, "details": public_details(config.get("details") or {})}
            for name, config in sorted(locations.items())
        }
        print(json.dumps({"locations": shown}, indent=2, sort_keys=True))
        return 0
    for name, config in sorted(locations.items()):
        raw = config.get("details")
        details: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
        print(f"{name:24} {config.get('type', '?'):8} {json.dumps(public_details(details), sort_keys=True)}")
    return 0


async def _probe(name: str, config: Mapping[str, Any], write: bool) -> list[str]:
    """What a test of the location found, one line each; raises StrataError on the first failure."""
    backend = create_remote(name, config)
    lines = [f"{name}: details accepted ({config.get('type')})"]
    try:
        await backend.health()
        lines.append(f"{name}: reachable, credentials accepted")
        if write:
            probe = f".strata-location-test-{secrets.token_hex(6)}"
            body = secrets.token_bytes(1024)

            async def chunks() -> AsyncIterator[bytes]:
                yield body

            written = await backend.put(
                probe, chunks(), ObjectMeta(content_type="application/octet-stream", size=len(body))
            )
            try:
                read = b"".join([piece async for piece in backend.get(written)])
                if read != body:
                    raise StrataError(
                        ErrorReason.INTERNAL, "the object read back differs from the one written"
                    )
            finally:
                await backend.delete(written)
            lines.append(f"{name}: wrote, read back and deleted {probe}")
    finally:
        await backend.close()
    return lines


def _test(args: argparse.Namespace) -> int:
    locations = asyncio.run(_load(args))
    config = locations.get(args.name)
    if config is None:
        print(
            f"strata location test: no location {args.name!r} (known: {', '.join(sorted(locations))})",
            file=sys.stderr,
        )
        return 1
    if not is_remote(str(config.get("type", ""))):
        print(
            f"{args.name}: {config.get('type')} location, served by its datanodes (see strata cluster status)"
        )
        return 0
    try:
        for line in asyncio.run(_probe(args.name, config, args.write)):
            print(line)
    except StrataError as error:
        advice = _ADVICE.get(error.reason, "see the datanode and gateway logs")
        print(f"{args.name}: {describe_problem(error)}: {error.message}; {advice}", file=sys.stderr)
        return 1
    return 0


def _add(args: argparse.Namespace) -> int:
    try:
        details = json.loads(args.details)
    except ValueError as error:
        print(f"strata location add: --details is not JSON: {error}", file=sys.stderr)
        return 1
    config = {"type": args.type, "legacyAwsBehavior": args.legacy_aws_behavior, "details": details}

    async def run() -> None:
        from coordinator.etcd import EtcdClient
        from coordinator.locations import put_location, validate_location
        from strata.admin.target import etcd_endpoint

        validate_location(args.name, config)
        if is_remote(args.type) and not args.no_test:
            for line in await _probe(args.name, config, write=False):
                print(line)
        client = await EtcdClient.connect(etcd_endpoint(args))
        try:
            await put_location(client, args.cluster, args.name, config)
        finally:
            await client.close()
        print(
            f"{args.name}: stored; gateways use it at once (start datanodes for it: strata datanode --type {args.type} --location {args.name})"
        )

    try:
        asyncio.run(run())
    except StrataError as error:
        advice = _ADVICE.get(error.reason, "")
        print(
            f"strata location add: {describe_problem(error)}: {error.message}{'; ' + advice if advice else ''}",
            file=sys.stderr,
        )
        return 1
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """``strata location ...``; ``strata admin location ...`` is built by the same function."""
    add_location_parser(commands)


def add_location_parser(commands: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    location = commands.add_parser("location", help="list, test and add data locations")
    actions = location.add_subparsers(dest="location_command", required=True)

    def source(parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "--file", default=None, help="a locationConfig.json instead of the cluster's etcd"
        )
        parser.add_argument("--etcd", default=None, help="etcd endpoint(s) (default: the local cluster's)")
        parser.add_argument("--dir", default=None, help="a local cluster's state directory")
        parser.add_argument("--cluster", default="local", help="cluster name (etcd key prefix)")

    listing = actions.add_parser("list", help="every location, with its details (secrets masked)")
    source(listing)
    listing.add_argument("--json", action="store_true", help="print one JSON document (secrets masked)")
    listing.set_defaults(run=_list)
    test = actions.add_parser("test", help="check that an external location works")
    source(test)
    test.add_argument("name", help="the location's name")
    test.add_argument("--write", action="store_true", help="also write, read back and delete a 1 KiB object")
    test.set_defaults(run=_test)
    add = actions.add_parser("add", help="store a new location in the cluster's etcd, after testing it")
    source(add)
    add.add_argument("name", help="the location's name")
    add.add_argument("--type", required=True, help="file, mem, aws_s3, azure, gcp, b2 or swift")
    add.add_argument("--details", default="{}", help="the location's details, as JSON")
    add.add_argument("--legacy-aws-behavior", action="store_true", help="CloudServer's legacyAwsBehavior")
    add.add_argument("--no-test", action="store_true", help="store it without checking that it works")
    add.set_defaults(run=_add)
