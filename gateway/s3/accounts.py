"""Accounts and their access keys, in CloudServer's ``conf/authdata.json`` format.

``load_accounts`` follows CloudServer's precedence: the ``SCALITY_ACCESS_KEY_ID`` /
``SCALITY_SECRET_ACCESS_KEY`` pair replaces every file-defined account; otherwise the
given file; otherwise the default accounts shipped beside this module.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from strata.runtime.errors import StartupError

DEFAULT_AUTHDATA_PATH = Path(__file__).with_name("default_authdata.json")
ENV_ACCESS_KEY = "SCALITY_ACCESS_KEY_ID"
ENV_SECRET_KEY = "SCALITY_SECRET_ACCESS_KEY"
CUSTOM_ACCOUNT_NAME = "CustomAccount"

_log = logging.getLogger("gateway.accounts")


class AuthDataError(StartupError, ValueError):
    """The authdata document is not usable (raised at startup, never during a request)."""


@dataclass(frozen=True)
class Account:
    name: str
    email: str
    arn: str
    canonical_id: str
    short_id: str

    @property
    def display_name(self) -> str:
        return self.name

    @property
    def account_id(self) -> str:
        """The 12-digit account id: from the arn (``arn:aws:iam::<id>:root``), else the short id."""
        parts = self.arn.split(":")
        if len(parts) >= 5 and parts[4]:
            return parts[4]
        return self.short_id


class AccountStore:
    """Read-only map from access key to (account, secret)."""

    def __init__(self, entries: Mapping[str, tuple[Account, str]]) -> None:
        self._by_access_key = dict(entries)
        self._by_canonical_id = {account.canonical_id: account for account, _ in self._by_access_key.values()}

    def lookup(self, access_key: str) -> tuple[Account, str] | None:
        return self._by_access_key.get(access_key)

    def by_canonical_id(self, canonical_id: str) -> Account | None:
        return self._by_canonical_id.get(canonical_id)

    def accounts(self) -> list[Account]:
        return list(self._by_canonical_id.values())

    def access_keys(self) -> list[str]:
        return list(self._by_access_key)

    @classmethod
    def from_dict(cls, document: Mapping[str, Any]) -> AccountStore:
        accounts = document.get("accounts") if isinstance(document, Mapping) else None
        if not isinstance(accounts, list):
            raise AuthDataError('authdata must be an object with an "accounts" list')
        entries: dict[str, tuple[Account, str]] = {}
        for index, raw in enumerate(accounts):
            account = _parse_account(raw, index)
            for key in raw.get("keys") or []:
                access, secret = key.get("access"), key.get("secret")
                if not isinstance(access, str) or not isinstance(secret, str) or not access or not secret:
                    raise AuthDataError(
                        f"account {account.name!r}: every key needs non-empty access and secret"
                    )
                if access in entries:
                    raise AuthDataError(f"access key {access!r} is defined twice")
                entries[access] = (account, secret)
        return cls(entries)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str]) -> AccountStore:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise AuthDataError(f"cannot read authdata file {path}: {exc}") from exc
        return cls.from_dict(document)

    @classmethod
    def single(cls, access_key: str, secret_key: str, name: str = CUSTOM_ACCOUNT_NAME) -> AccountStore:
        """One account holding one key, with ids derived from the access key so they are stable."""
        digest = hashlib.sha256(f"strata-account:{access_key}".encode()).hexdigest()
        short_id = str(int(digest[:12], 16) % 10**12).zfill(12)
        account = Account(
            name=name,
            email=f"{name.lower()}@localhost",
            arn=f"arn:aws:iam::{short_id}:root",
            canonical_id=digest,
            short_id=short_id,
        )
        return cls({access_key: (account, secret_key)})


def load_accounts(path: str | None = None, env: Mapping[str, str] = os.environ) -> AccountStore:
    """The accounts a gateway serves (precedence in the module docstring)."""
    access_key, secret_key = env.get(ENV_ACCESS_KEY), env.get(ENV_SECRET_KEY)
    if access_key and secret_key:
        return AccountStore.single(access_key, secret_key)
    if access_key or secret_key:
        raise AuthDataError(f"{ENV_ACCESS_KEY} and {ENV_SECRET_KEY} must be set together")
    return AccountStore.from_file(path if path else DEFAULT_AUTHDATA_PATH)


def published_default_keys(store: AccountStore) -> list[str]:
    """Access keys of ``store`` whose secret is the one published in the default authdata file."""
    defaults = AccountStore.from_file(DEFAULT_AUTHDATA_PATH)
    published = []
    for access_key in store.access_keys():
        default, mine = defaults.lookup(access_key), store.lookup(access_key)
        if default is not None and mine is not None and default[1] == mine[1]:
            published.append(access_key)
    return sorted(published)


def warn_if_exposed_with_default_keys(addresses: list[Any], accounts: AccountStore) -> None:
    """Logs a warning when a non-loopback address serves the access keys published in the docs."""
    exposed = sorted({str(address[0]) for address in addresses if not _is_loopback(str(address[0]))})
    published = published_default_keys(accounts)
    if exposed and published:
        _log.warning(
            "listening on %s with the published default credentials (%s): anyone who can reach "
            "this address can use them; set S3AUTH_CONFIG or SCALITY_ACCESS_KEY_ID/"
            "SCALITY_SECRET_ACCESS_KEY",
            ", ".join(exposed),
            ", ".join(published),
        )


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host == "localhost"


def _parse_account(raw: Any, index: int) -> Account:
    if not isinstance(raw, Mapping):
        raise AuthDataError(f"accounts[{index}] is not an object")
    name = raw.get("name")
    canonical_id = raw.get("canonicalID")
    if not isinstance(name, str) or not name:
        raise AuthDataError(f"accounts[{index}] has no name")
    if not isinstance(canonical_id, str) or not canonical_id:
        raise AuthDataError(f"account {name!r} has no canonicalID")
    return Account(
        name=name,
        email=str(raw.get("email", "")),
        arn=str(raw.get("arn", "")),
        canonical_id=canonical_id,
        short_id=str(raw.get("shortid", "")),
    )
