"""docs/configuration.md covers every setting, every environment variable the code reads and every
role option, says what the code does (each documented variable really moves its setting), and is
the page ``scripts/gen-config-docs`` writes today."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import pytest

from strata import config_docs
from strata.settings import OTHER_ENVIRONMENT, SETTING_DOCS, ServerSettings, load_server_settings

ROOT = Path(__file__).resolve().parents[3]
PRODUCTION_PACKAGES = ("gateway", "metanode", "datanode", "coordinator", "strata", "protos")
# Reads of a named variable: os.environ.get("X"), os.environ["X"], env.get("X"), env["X"].
ENV_READ = re.compile(r'\b(?:environ|env)(?:\.get\(|\[)\s*"([A-Z][A-Z0-9_]*)"')
STRATA_NAME = re.compile(r'"(STRATA_[A-Z0-9_]+)"')
# Removed from the environment of child processes (strata.localcluster), never read as a setting.
NOT_SETTINGS = frozenset({"STRATA_JSON_LOGS"})


def page() -> str:
    return (ROOT / "docs" / "configuration.md").read_text()


def test_every_setting_has_a_description_and_a_row_in_the_page() -> None:
    names = [name for name, _ in config_docs.documented_fields()]
    assert sorted(SETTING_DOCS) == sorted(names), (
        "describe every setting in SETTING_DOCS (strata/settings.py)"
    )
    text = page()
    for name in names:
        assert f"| `{name}` |" in text, name
        assert SETTING_DOCS[name].meaning
    for entry in OTHER_ENVIRONMENT:
        assert f"| `{entry.variable}` |" in text, entry.variable


def test_the_committed_page_is_what_the_generator_writes() -> None:
    assert page() == config_docs.render(), "docs/configuration.md is stale: run scripts/gen-config-docs"


def test_every_option_of_every_role_is_in_the_page() -> None:
    text = page()
    for role, (parser, _) in config_docs.role_parsers().items():
        section = text.split(f"### `strata {role}`", 1)[1].split("\n### ", 1)[0]
        for action in parser._actions:
            for option in action.option_strings:
                if option.startswith("--") and option != "--help":
                    assert f"`{option}" in section, f"strata {role} {option}"


def variables_read_by_the_code() -> set[str]:
    found: set[str] = set()
    for package in PRODUCTION_PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            if "testing" in path.relative_to(ROOT).parts:
                continue
            source = path.read_text()
            found |= set(ENV_READ.findall(source)) | set(STRATA_NAME.findall(source))
    return found - NOT_SETTINGS


def test_every_environment_variable_the_code_reads_is_documented() -> None:
    documented = {name for doc in SETTING_DOCS.values() for name in doc.environment}
    documented |= {entry.variable for entry in OTHER_ENVIRONMENT}
    read = variables_read_by_the_code()
    assert {"S3BACKEND", "STRATA_ETCD", "STRATA_MAX_PUT_SIZE", "LOG_LEVEL"} <= read  # the scan works
    missing = sorted(read - documented)
    assert not missing, f"document {missing} in strata/settings.py (SETTING_DOCS or OTHER_ENVIRONMENT)"


def _setting(settings: ServerSettings, name: str) -> Any:
    value: Any = settings
    for part in name.split("."):
        value = getattr(value, part)
    return value


@pytest.fixture
def files(tmp_path: Path) -> dict[str, str]:
    """A config.json, a locationConfig.json and certificate files for the variables that name files."""
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    key.write_text("key")
    cert.write_text("cert")
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"certFilePaths": {"key": str(key), "cert": str(cert)}}))
    plain_config = tmp_path / "plain-config.json"
    plain_config.write_text("{}")
    locations = tmp_path / "locationConfig.json"
    file_location = {"type": "file", "legacyAwsBehavior": False, "details": {}}
    locations.write_text(json.dumps({"us-east-1": file_location, "cold": file_location}))
    return {"config": str(config), "plain_config": str(plain_config), "locations": str(locations)}


def samples(files: dict[str, str]) -> dict[str, tuple[dict[str, str], dict[str, str]]]:
    """Per variable: (the environment without it, the same with it set to a value that is not its default)."""
    alone = {
        "S3BACKEND": "mem",
        "LISTEN_ADDR": "0.0.0.0",
        "S3DATAPATH": "/srv/strata/data",
        "S3METADATAPATH": "/srv/strata/metadata",
        "S3AUTH_CONFIG": "/etc/strata/authdata.json",
        "S3_CONFIG_FILE": files["plain_config"],
        "S3_LOCATION_FILE": files["locations"],
        "ENDPOINT": "s3.example.test",
        "STRATA_GC_INTERVAL": "2.5",
        "STRATA_INTENT_TTL": "60",
        "STRATA_GC_GRACE": "7",
        "STRATA_LIFECYCLE_INTERVAL": "5",
        "STRATA_LIFECYCLE_DAY_SECONDS": "2",
        "STRATA_HEADER_TIMEOUT": "5",
        "STRATA_BODY_IDLE_TIMEOUT": "6",
        "STRATA_MAX_CONNECTIONS": "10",
        "STRATA_MAX_PUT_SIZE": "1000",
        "STRATA_REGIONS": "eu-west-3",
        "STRATA_WEBSITE_PORT": "8005",
        "STRATA_KMS_DIR": "/srv/strata/keys",
    }
    cases = {name: ({}, {name: value}) for name, value in alone.items()}
    # SSL only matters beside certFilePaths: false turns HTTPS off.
    with_certificates = {"S3_CONFIG_FILE": files["config"]}
    cases["SSL"] = (with_certificates, {**with_certificates, "SSL": "false"})
    return cases


def test_every_documented_variable_changes_its_setting(files: dict[str, str]) -> None:
    cases = samples(files)
    checked = 0
    for name, doc in SETTING_DOCS.items():
        for variable in doc.environment:
            assert variable in cases, f"add a sample value for {variable} to this test"
            without, with_it = cases[variable]
            before = _setting(load_server_settings(env=without), name)
            after = _setting(load_server_settings(env=with_it), name)
            assert before != after, f"{variable} does not change {name}"
            checked += 1
    assert checked == sum(len(doc.environment) for doc in SETTING_DOCS.values())


def test_the_documented_defaults_are_the_loaded_defaults() -> None:
    """What the page shows as defaults is what start-up gives with an empty environment."""
    loaded = load_server_settings(env={})
    for name, item in config_docs.documented_fields():
        default = item.default if item.default is not dataclasses.MISSING else item.default_factory()  # type: ignore[misc]
        assert _setting(loaded, name) == default, name
