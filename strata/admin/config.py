"""``strata admin config export FILE`` / ``import FILE``: the cluster's stored configuration as one JSON file.

The file holds what etcd stores about how the cluster is set up, not its data or live state::

    {"format": "strata-cluster-config", "version": 1, "cluster": "<name>",
     "config": {config.json fields}, "locations": {locationConfig.json},
     "authdata": {authdata.json: accounts and their keys}, "shards": {"s1": {"replicas": 3, "members": [...]}}}

It contains the accounts' secret keys, so it is written readable by its owner only. ``import``
reads and validates the whole file before writing anything; it replaces the locations and
``config.json`` settings, merges the accounts by access key (``--replace-accounts``: the file's
keys become the only ones), and creates the shards the cluster does not have yet. A shard that
exists with other members is refused: changing a running shard's membership is not a
configuration import.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strata.admin.output import add_json_option, print_json, run_command
from strata.admin.target import add_target_options, etcd_endpoint

if TYPE_CHECKING:
    from coordinator.etcd import EtcdClient

FORMAT = "strata-cluster-config"
VERSION = 1


def _invalid(message: str) -> Exception:
    from protos.common_pb2 import ErrorReason
    from protos.errors import StrataError

    return StrataError(ErrorReason.INVALID_ARGUMENT, message)


async def read_shard_members(client: EtcdClient, cluster: str) -> dict[str, dict[str, Any]]:
    """shard id -> its stored ``members`` record."""
    from coordinator.keyspace import keyspace

    prefix = keyspace(cluster).shards_prefix
    found = {}
    for key, raw in await client.get_prefix(prefix):
        shard_id, _, name = key[len(prefix) :].partition("/")
        if name == "members":
            found[shard_id] = json.loads(raw)
    return dict(sorted(found.items()))


async def export_document(client: EtcdClient, cluster: str) -> dict[str, Any]:
    from coordinator.config_io import get_authdata, get_config
    from coordinator.locations import get_locations

    return {
        "format": FORMAT,
        "version": VERSION,
        "cluster": cluster,
        "config": await get_config(client, cluster),
        "locations": dict(sorted((await get_locations(client, cluster)).items())),
        "authdata": await get_authdata(client, cluster),
        "shards": await read_shard_members(client, cluster),
    }


def validate_shards(shards: Any) -> None:
    if not isinstance(shards, Mapping):
        raise _invalid('"shards" must map shard ids to {"replicas", "members"}')
    for shard_id, record in shards.items():
        if not isinstance(shard_id, str) or not shard_id or "/" in shard_id:
            raise _invalid(f"invalid shard id {shard_id!r}")
        members = record.get("members") if isinstance(record, Mapping) else None
        replicas = record.get("replicas") if isinstance(record, Mapping) else None
        if not isinstance(members, list) or not all(isinstance(m, str) and m for m in members):
            raise _invalid(f"shard {shard_id}: members must be a list of metanode ids")
        if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 1:
            raise _invalid(f"shard {shard_id}: replicas must be a positive integer")


def validate_document(document: Any) -> None:
    """Checks every part of an exported file (raises INVALID_ARGUMENT on the first problem)."""
    from coordinator.config_io import validate_authdata, validate_config
    from coordinator.locations import validate_locations

    if not isinstance(document, Mapping) or document.get("format") != FORMAT:
        raise _invalid(f'not a Strata cluster configuration file (no "format": "{FORMAT}")')
    if document.get("version") != VERSION:
        raise _invalid(f"unsupported file version {document.get('version')!r} (this tool reads {VERSION})")
    for part in ("config", "locations", "authdata", "shards"):
        if part not in document:
            raise _invalid(f'the file has no "{part}"')
    validate_locations(document["locations"])
    validate_config(document["config"], set(document["locations"]))
    validate_authdata(document["authdata"])
    validate_shards(document["shards"])


@dataclass
class ImportResult:
    locations: int = 0
    settings: int = 0
    accounts_added: list[str] = field(default_factory=list)
    accounts_updated: list[str] = field(default_factory=list)
    accounts_removed: list[str] = field(default_factory=list)
    shards_created: list[str] = field(default_factory=list)
    shards_unchanged: list[str] = field(default_factory=list)


async def import_document(
    client: EtcdClient, cluster: str, document: Mapping[str, Any], replace_accounts: bool
) -> ImportResult:
    from coordinator.config_io import import_authdata, import_config
    from coordinator.keyspace import keyspace
    from coordinator.locations import put_locations

    validate_document(document)
    stored_shards = await read_shard_members(client, cluster)
    result = ImportResult()
    for shard_id, record in sorted(document["shards"].items()):
        stored = stored_shards.get(shard_id)
        if stored is None:
            result.shards_created.append(shard_id)
        elif stored.get("members") == record["members"] and stored.get("replicas") == record["replicas"]:
            result.shards_unchanged.append(shard_id)
        else:
            raise _invalid(
                f"shard {shard_id} exists with members {stored.get('members')}, the file says "
                f"{record['members']}: membership changes are not imported (nothing was written)"
            )
    await put_locations(client, cluster, document["locations"], replace=True)
    result.locations = len(document["locations"])
    result.settings = await import_config(client, cluster, document["config"])
    changes = await import_authdata(client, cluster, document["authdata"], replace=replace_accounts)
    result.accounts_added, result.accounts_updated = list(changes.added), list(changes.updated)
    result.accounts_removed = list(changes.removed)
    for shard_id in result.shards_created:
        record = document["shards"][shard_id]
        members = {"replicas": record["replicas"], "members": record["members"]}
        await client.create_if_absent(
            keyspace(cluster).shard_members(shard_id), json.dumps(members, sort_keys=True).encode()
        )
    return result


def _write_private(path: Path, document: Mapping[str, Any]) -> None:
    temporary = path.with_name(path.name + ".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as out:
        out.write(json.dumps(document, indent=2, sort_keys=True) + "\n")
    os.replace(temporary, path)


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise _invalid(f"cannot read {path}: {error.strerror or error}") from error
    except json.JSONDecodeError as error:
        raise _invalid(f"{path} is not valid JSON: {error}") from error


async def _config(args: argparse.Namespace) -> int:
    from coordinator.etcd import EtcdClient

    path = Path(args.file)
    client = await EtcdClient.connect(etcd_endpoint(args))
    try:
        if args.config_command == "export":
            document = await export_document(client, args.cluster)
            await asyncio.to_thread(_write_private, path, document)
            summary: dict[str, Any] = {
                "file": str(path),
                "locations": len(document["locations"]),
                "accounts": len(document["authdata"]["accounts"]),
                "shards": len(document["shards"]),
            }
            if args.json:
                print_json(summary)
            else:
                print(
                    f"wrote {path}: {summary['locations']} locations, {summary['accounts']} accounts, "
                    f"{summary['shards']} shards (it holds secret keys: readable by you only)"
                )
            return 0
        document = await asyncio.to_thread(_read, path)
        result = await import_document(client, args.cluster, document, args.replace_accounts)
    finally:
        await client.close()
    if args.json:
        print_json(result.__dict__)
    else:
        print(f"imported {path} into cluster {args.cluster}:")
        print(
            f"  {result.locations} locations (the stored set replaced), {result.settings} config.json settings"
        )
        print(
            f"  access keys: {len(result.accounts_added)} added, {len(result.accounts_updated)} updated, "
            f"{len(result.accounts_removed)} removed"
        )
        print(
            f"  shards: {len(result.shards_created)} created {result.shards_created or ''}, "
            f"{len(result.shards_unchanged)} unchanged".replace(" []", "")
        )
    return 0


def _run(args: argparse.Namespace) -> int:
    return run_command(f"config {args.config_command}", _config(args))


def add_commands(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    config = actions.add_parser("config", help="export or import the cluster's stored configuration")
    config_actions = config.add_subparsers(dest="config_command", required=True)
    export = config_actions.add_parser(
        "export", help="write locations, accounts, settings and shards to FILE"
    )
    imports = config_actions.add_parser("import", help="load a file written by export into the cluster")
    for parser in (export, imports):
        add_target_options(parser)
        add_json_option(parser)
        parser.add_argument("file", help="the JSON file")
        parser.set_defaults(run=_run)
    imports.add_argument(
        "--replace-accounts",
        action="store_true",
        help="the file's access keys become the only ones (default: merged with the stored ones)",
    )
