"""Renders ``docs/configuration.md`` from the typed settings and the command-line parsers.

The settings' meanings live beside them (``SETTING_DOCS`` and ``OTHER_ENVIRONMENT`` in
:mod:`strata.settings`); types and defaults come from the dataclasses themselves, and each role's
options from its real argparse parser, so the page cannot say something the code does not do.
``scripts/gen-config-docs`` writes the page; ``scripts/test`` fails when the committed one is stale.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from gateway.limits import GatewayOptions
from strata.settings import OTHER_ENVIRONMENT, SETTING_DOCS, ServerSettings, SettingDoc

ROLES = ("server", "gateway", "metanode", "datanode", "coordinator")
OUTPUT = Path("docs/configuration.md")
# Parsers take some defaults from the environment; the page shows the ones a clean shell gets.
_ENVIRONMENT_PREFIXES = ("STRATA_",)


def documented_fields() -> list[tuple[str, dataclasses.Field[Any]]]:
    """Every setting: ServerSettings' fields, with the nested GatewayOptions ones as ``gateway.<name>``."""
    found: list[tuple[str, dataclasses.Field[Any]]] = []
    for item in dataclasses.fields(ServerSettings):
        if item.name == "gateway":
            found.extend((f"gateway.{inner.name}", inner) for inner in dataclasses.fields(GatewayOptions))
        else:
            found.append((item.name, item))
    return found


def _default(item: dataclasses.Field[Any]) -> Any:
    if item.default is not dataclasses.MISSING:
        return item.default
    if item.default_factory is not dataclasses.MISSING:
        return item.default_factory()
    raise ValueError(f"setting {item.name} has no default")


def _code(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, tuple) and not value:
        return "none"
    if isinstance(value, (dict, list, tuple)):
        text = json.dumps(value, sort_keys=True, separators=(", ", ": "))
    elif isinstance(value, bool):
        text = "true" if value else "false"
    else:
        text = str(value)
    return f"`{_cell(text)}`"


def _cell(text: str) -> str:
    """Table cells cannot hold a bare pipe or a line break."""
    return " ".join(text.split()).replace("|", "\\|")


def _names(names: tuple[str, ...] | list[str]) -> str:
    return ", ".join(f"`{name}`" for name in names) if names else "—"


def _settings_table() -> list[str]:
    lines = [
        "| setting | environment | CloudServer name | `strata server` option | type | default | meaning |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, item in documented_fields():
        doc: SettingDoc = SETTING_DOCS[name]
        lines.append(
            f"| `{name}` | {_names(doc.environment)} | {_cell(doc.cloudserver) or '—'} | "
            f"{_names([doc.flag] if doc.flag else [])} | `{_cell(str(item.type))}` | "
            f"{_code(_default(item))} | {_cell(doc.meaning)} |"
        )
    return lines


def _environment_table() -> list[str]:
    lines = [
        "| variable | read by | default | CloudServer name | meaning |",
        "|---|---|---|---|---|",
    ]
    for entry in OTHER_ENVIRONMENT:
        same = "same" if entry.cloudserver else "—"
        lines.append(
            f"| `{entry.variable}` | {_cell(entry.read_by)} | `{_cell(entry.default)}` | {same} | "
            f"{_cell(entry.meaning)} |"
        )
    return lines


@contextlib.contextmanager
def _clean_environment() -> Iterator[None]:
    """Hides the variables the parsers read their defaults from, then puts them back."""
    names = {doc for entry in SETTING_DOCS.values() for doc in entry.environment}
    names |= {entry.variable for entry in OTHER_ENVIRONMENT}
    hidden = {
        name: value
        for name, value in os.environ.items()
        if name in names or name.startswith(_ENVIRONMENT_PREFIXES)
    }
    for name in hidden:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(hidden)


def role_parsers() -> dict[str, tuple[argparse.ArgumentParser, str]]:
    """The real parser of each role and its one-line help, as ``strata`` builds them in a clean
    environment."""
    from strata.cli import build_parser

    with _clean_environment():
        parser = build_parser()
    subcommands = next(action for action in parser._actions if isinstance(action, argparse._SubParsersAction))
    helps = {action.dest: action.help or "" for action in subcommands._choices_actions}
    return {role: (subcommands.choices[role], helps[role]) for role in ROLES}


def _option_default(action: argparse.Action) -> str:
    if action.required:
        return "required"
    if action.default is None:
        return "unset"  # the meaning says what happens then (a flag left out may still mean "on")
    if action.default is False:
        return "off"
    return _code(action.default)


def _options_table(parser: argparse.ArgumentParser) -> list[str]:
    lines = ["| option | default | meaning |", "|---|---|---|"]
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction) or not action.option_strings:
            continue
        help_text = (action.help or "").replace("%%", "%")
        choices = f" (one of {', '.join(map(str, action.choices))})" if action.choices else ""
        option = action.option_strings[-1]
        metavar = "" if action.nargs == 0 else f" {action.dest.upper()}"
        lines.append(f"| `{option}{metavar}` | {_option_default(action)} | {_cell(help_text + choices)} |")
    return lines


def render() -> str:
    out = [
        "# Configuration reference",
        "",
        "<!-- Generated by scripts/gen-config-docs from strata/settings.py and the command-line parsers;",
        "     do not edit by hand: change the code, then run scripts/gen-config-docs. -->",
        "",
        "Strata is configured the way CloudServer is: environment variables and CloudServer's",
        "`config.json`, `locationConfig.json` and `conf/authdata.json`. A cluster keeps those three",
        "documents in etcd (`strata config import`), and each role takes command-line options. A bad",
        "value stops the process at start-up with one line, `strata: <why>`, and exit status 2.",
        "",
        "## Settings of the embedded server",
        "",
        "What `strata server` reads at start-up (`strata/settings.py`). A cluster gateway",
        "(`strata gateway`) reads the `gateway.*` limits, `certificates` and `S3AUTH_CONFIG` the same",
        "way and `LISTEN_ADDR` as the default of `--host`, and takes its endpoints, locations and",
        "accounts from etcd.",
        "",
        *_settings_table(),
        "",
        "## Other environment variables",
        "",
        *_environment_table(),
        "",
        "## Command-line options",
        "",
        "The options of each process, from its parser (`strata <role> --help` prints the same).",
        "Cluster roles log JSON lines unless told otherwise; `strata server` logs JSON unless stderr",
        "is a terminal.",
    ]
    for role, (parser, summary) in role_parsers().items():
        out += ["", f"### `strata {role}`", "", f"{_cell(summary)[:1].upper()}{_cell(summary)[1:]}.", ""]
        out += _options_table(parser)
    return "\n".join(out) + "\n"


def main() -> int:
    OUTPUT.write_text(render())
    print(f"wrote {OUTPUT}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
