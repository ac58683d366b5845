"""``strata config import`` / ``export``: CloudServer's three configuration files <-> etcd.

=========================  ==============================================================
file                       etcd keys (under ``/strata/<cluster>/``)
=========================  ==============================================================
``config.json``            ``config/rest_endpoints`` (``restEndpoints``),
                           ``config/website_endpoints`` (``websiteEndpoints``),
                           ``config/settings`` (every other field, e.g. ``replicationGroupId``)
``locationConfig.json``    ``config/locations/<name>``, one per location
``conf/authdata.json``     ``accounts/<access-key>``: the account with that one key
=========================  ==============================================================

Importing ``config.json`` or ``locationConfig.json`` replaces what it describes (a
location absent from the file is removed). Importing ``authdata.json`` merges by
access key (a stored key absent from the file stays) unless ``replace_accounts``,
when the file's keys become the only ones. Files not given leave their part of etcd
alone. Running gateways watch these keys, so an import takes effect without a restart. Every
given file is read and validated before anything is written. Exporting writes
the three files back: accounts ordered by name and their keys by access key,
everything else as stored.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace, keyspace
from coordinator.locations import get_locations, put_locations, validate_locations
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

CONFIG_FILE = "config.json"
LOCATIONS_FILE = "locationConfig.json"
AUTHDATA_FILE = os.path.join("conf", "authdata.json")

REST_ENDPOINTS_FIELD = "restEndpoints"
WEBSITE_ENDPOINTS_FIELD = "websiteEndpoints"


def _invalid(message: str) -> StrataError:
    return StrataError(ErrorReason.INVALID_ARGUMENT, message)


def _json_bytes(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True).encode("utf-8")


@dataclass(frozen=True)
class AccountChanges:
    """How an authdata import changed the stored access keys."""

    added: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()  # the key existed with other contents (secret, account fields)
    unchanged: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()  # only when replacing


@dataclass(frozen=True)
class ImportSummary:
    """What an import wrote (None: that file was not given)."""

    settings: int | None = None  # config.json fields stored
    locations: int | None = None
    access_keys: int | None = None  # access keys in the authdata file
    accounts: AccountChanges | None = None

    def lines(self) -> list[str]:
        """A readable account of the import, one line per part."""
        lines = []
        if self.settings is not None:
            lines.append(f"config.json: {self.settings} settings stored")
        if self.locations is not None:
            lines.append(f"locationConfig.json: {self.locations} locations (the stored set replaced)")
        if self.accounts is not None:
            changes = self.accounts
            parts = [
                f"{len(names)} {what}" + (f" ({', '.join(names)})" if names else "")
                for what, names in (
                    ("added", changes.added),
                    ("updated", changes.updated),
                    ("unchanged", changes.unchanged),
                    ("removed", changes.removed),
                )
                if names or what != "removed"
            ]
            lines.append("authdata.json: access keys " + ", ".join(parts))
        return lines or ["nothing: no file given (use --config, --locations, --authdata)"]


# ---- validation -------------------------------------------------------------------------------


def validate_config(config: Any, location_names: set[str] | None) -> None:
    """Checks a ``config.json`` document; ``restEndpoints`` must name known locations when they are given."""
    if not isinstance(config, Mapping):
        raise _invalid(f"{CONFIG_FILE} must be a JSON object")
    rest_endpoints = config.get(REST_ENDPOINTS_FIELD)
    if rest_endpoints is not None:
        if not isinstance(rest_endpoints, Mapping) or not all(
            isinstance(host, str) and isinstance(location, str) for host, location in rest_endpoints.items()
        ):
            raise _invalid(f"{REST_ENDPOINTS_FIELD} must map host names to location names")
        if location_names is not None:
            unknown = sorted({loc for loc in rest_endpoints.values() if loc not in location_names})
            if unknown:
                raise _invalid(f"{REST_ENDPOINTS_FIELD} uses unknown location(s): {', '.join(unknown)}")
    website_endpoints = config.get(WEBSITE_ENDPOINTS_FIELD)
    if website_endpoints is not None and (
        not isinstance(website_endpoints, list)
        or not all(isinstance(host, str) for host in website_endpoints)
    ):
        raise _invalid(f"{WEBSITE_ENDPOINTS_FIELD} must be a list of host names")


def validate_authdata(authdata: Any) -> None:
    """Checks an ``authdata.json`` document: named accounts with a canonicalID, unique non-empty keys."""
    accounts = authdata.get("accounts") if isinstance(authdata, Mapping) else None
    if not isinstance(accounts, list):
        raise _invalid('authdata must be an object with an "accounts" list')
    seen: set[str] = set()
    for index, account in enumerate(accounts):
        if not isinstance(account, Mapping):
            raise _invalid(f"accounts[{index}] is not an object")
        name = account.get("name")
        if not isinstance(name, str) or not name:
            raise _invalid(f"accounts[{index}] has no name")
        if not isinstance(account.get("canonicalID"), str) or not account["canonicalID"]:
            raise _invalid(f"account {name!r} has no canonicalID")
        keys = account.get("keys", [])
        if not isinstance(keys, list):
            raise _invalid(f"account {name!r}: keys must be a list")
        for key in keys:
            access = key.get("access") if isinstance(key, Mapping) else None
            secret = key.get("secret") if isinstance(key, Mapping) else None
            if not isinstance(access, str) or not access or "/" in access:
                raise _invalid(f"account {name!r}: every key needs an access key without '/'")
            if not isinstance(secret, str) or not secret:
                raise _invalid(f"account {name!r}: access key {access!r} has no secret")
            if access in seen:
                raise _invalid(f"access key {access!r} is defined twice")
            seen.add(access)


# ---- stored config accessors ------------------------------------------------------------------


async def _get_json(client: EtcdClient, key: str) -> Any | None:
    raw = await client.get(key)
    return json.loads(raw) if raw is not None else None


async def get_rest_endpoints(client: EtcdClient, cluster: str | Keyspace) -> dict[str, str]:
    """``restEndpoints``: host -> default location for requests to that host."""
    return await _get_json(client, keyspace(cluster).rest_endpoints) or {}


async def get_website_endpoints(client: EtcdClient, cluster: str | Keyspace) -> list[str]:
    return await _get_json(client, keyspace(cluster).website_endpoints) or []


async def get_settings(client: EtcdClient, cluster: str | Keyspace) -> dict[str, Any]:
    """The other ``config.json`` fields (``replicationGroupId``, ...)."""
    return await _get_json(client, keyspace(cluster).settings) or {}


async def get_authdata(client: EtcdClient, cluster: str | Keyspace) -> dict[str, Any]:
    """The stored accounts as an ``authdata.json`` document."""
    return authdata_document(
        [json.loads(raw) for _, raw in await client.get_prefix(keyspace(cluster).accounts_prefix)]
    )


def authdata_document(stored_keys: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``authdata.json`` document of the stored per-access-key records (accounts regrouped)."""
    by_canonical_id: dict[str, dict[str, Any]] = {}
    for stored in stored_keys:
        account = by_canonical_id.setdefault(
            stored["canonicalID"], {**{k: v for k, v in stored.items() if k != "keys"}, "keys": []}
        )
        account["keys"].extend(stored.get("keys", []))
    accounts = sorted(by_canonical_id.values(), key=lambda account: (account["name"], account["canonicalID"]))
    for account in accounts:
        account["keys"].sort(key=lambda key: key["access"])
    return {"accounts": accounts}


async def get_config(client: EtcdClient, cluster: str | Keyspace) -> dict[str, Any]:
    """The stored ``config.json`` document."""
    keys = keyspace(cluster)
    config = dict(await get_settings(client, keys))
    rest_endpoints = await _get_json(client, keys.rest_endpoints)
    if rest_endpoints is not None:
        config[REST_ENDPOINTS_FIELD] = rest_endpoints
    website_endpoints = await _get_json(client, keys.website_endpoints)
    if website_endpoints is not None:
        config[WEBSITE_ENDPOINTS_FIELD] = website_endpoints
    return config


# ---- import -----------------------------------------------------------------------------------


async def import_config(client: EtcdClient, cluster: str | Keyspace, config: Mapping[str, Any]) -> int:
    """Stores a validated ``config.json`` document; returns how many fields it had."""
    keys = keyspace(cluster)
    settings = {k: v for k, v in config.items() if k not in (REST_ENDPOINTS_FIELD, WEBSITE_ENDPOINTS_FIELD)}
    for field, key in (
        (REST_ENDPOINTS_FIELD, keys.rest_endpoints),
        (WEBSITE_ENDPOINTS_FIELD, keys.website_endpoints),
    ):
        if field in config:
            await client.put(key, _json_bytes(config[field]))
        else:
            await client.delete(key)
    await client.put(keys.settings, _json_bytes(settings))
    return len(config)


async def import_authdata(
    client: EtcdClient, cluster: str | Keyspace, authdata: Mapping[str, Any], replace: bool = False
) -> AccountChanges:
    """Stores a validated ``authdata.json`` document, one key per access key, merged or replacing."""
    keys = keyspace(cluster)
    wanted: dict[str, bytes] = {}
    for account in authdata["accounts"]:
        fields = {k: v for k, v in account.items() if k != "keys"}
        for key in account.get("keys", []):
            wanted[key["access"]] = _json_bytes({**fields, "keys": [dict(key)]})
    stored = {
        Keyspace.last_segment(key): value for key, value in await client.get_prefix(keys.accounts_prefix)
    }
    added, updated, unchanged, removed = [], [], [], []
    for access, value in sorted(wanted.items()):
        previous = stored.get(access)
        if previous is None:
            added.append(access)
        elif json.loads(previous) != json.loads(value):
            updated.append(access)
        else:
            unchanged.append(access)
            continue
        await client.put(keys.account(access), value)
    if replace:
        for access in sorted(set(stored) - set(wanted)):
            await client.delete(keys.account(access))
            removed.append(access)
    return AccountChanges(tuple(added), tuple(updated), tuple(unchanged), tuple(removed))


def _read_json(path: str | os.PathLike[str]) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise _invalid(f"cannot read {path}: {error.strerror or error}") from error
    except json.JSONDecodeError as error:
        raise _invalid(f"{path} is not valid JSON: {error}") from error


async def import_files(
    client: EtcdClient,
    cluster: str | Keyspace,
    config_path: str | os.PathLike[str] | None,
    locations_path: str | os.PathLike[str] | None,
    authdata_path: str | os.PathLike[str] | None,
    replace_accounts: bool = False,
) -> ImportSummary:
    """Loads the given CloudServer files into etcd, validating all of them before writing any."""
    keys = keyspace(cluster)
    config = await asyncio.to_thread(_read_json, config_path) if config_path is not None else None
    locations = await asyncio.to_thread(_read_json, locations_path) if locations_path is not None else None
    authdata = await asyncio.to_thread(_read_json, authdata_path) if authdata_path is not None else None

    if locations is not None:
        validate_locations(locations)
    if config is not None:
        known = set(locations) if locations is not None else set(await get_locations(client, keys))
        validate_config(config, known)
    if authdata is not None:
        validate_authdata(authdata)

    settings_count = locations_count = access_key_count = None
    account_changes = None
    if locations is not None:
        await put_locations(client, keys, locations, replace=True)
        locations_count = len(locations)
    if config is not None:
        settings_count = await import_config(client, keys, config)
    if authdata is not None:
        account_changes = await import_authdata(client, keys, authdata, replace=replace_accounts)
        access_key_count = sum(len(account.get("keys", [])) for account in authdata["accounts"])
    return ImportSummary(
        settings=settings_count,
        locations=locations_count,
        access_keys=access_key_count,
        accounts=account_changes,
    )


# ---- export -----------------------------------------------------------------------------------


def _write_json(path: Path, document: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(document, indent=4) + "\n", encoding="utf-8")
    os.replace(temporary, path)


async def export_files(
    client: EtcdClient, cluster: str | Keyspace, out_dir: str | os.PathLike[str]
) -> list[Path]:
    """Writes ``config.json``, ``locationConfig.json`` and ``conf/authdata.json`` under ``out_dir``."""
    keys = keyspace(cluster)
    root = Path(out_dir)
    documents = {
        root / CONFIG_FILE: await get_config(client, keys),
        root / LOCATIONS_FILE: await get_locations(client, keys),
        root / AUTHDATA_FILE: await get_authdata(client, keys),
    }
    for path, document in documents.items():
        await asyncio.to_thread(_write_json, path, document)
    return list(documents)
