"""The systemd units of docs/systemd/ start what they say: each strata ExecStart line parses with
the real ``strata`` parser into its role, with listen addresses the role accepts; every etcd flag
exists in the installed etcd; and systemd itself reads the units without a complaint."""

from __future__ import annotations

import configparser
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from strata.cli import build_parser
from strata.settings import parse_listen, validate_port

UNITS = Path(__file__).resolve().parents[3] / "docs" / "systemd"
INSTALLED_STRATA = "/opt/strata/bin/strata"  # where docs/deployment.md installs it
ROLES = ("metanode", "datanode", "gateway", "coordinator")


def unit(name: str) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    # systemd continues a line ending in a backslash; configparser does not.
    parser.read_string((UNITS / name).read_text().replace("\\\n", " "))
    return parser


def exec_start(name: str) -> list[str]:
    return shlex.split(unit(name)["Service"]["ExecStart"])


def test_there_is_a_unit_for_etcd_and_every_role() -> None:
    names = {path.name for path in UNITS.glob("*.service")}
    assert names == {"strata-etcd.service", *(f"strata-{role}.service" for role in ROLES)}


@pytest.mark.parametrize("role", ROLES)
def test_the_exec_start_line_parses_into_its_role(role: str) -> None:
    argv = exec_start(f"strata-{role}.service")
    assert argv[0] == INSTALLED_STRATA
    args = build_parser().parse_args(argv[1:])  # argparse exits (SystemExit) on an unknown flag
    assert args.command == role
    if role == "gateway":
        validate_port(args.port, "--port")
    else:
        parse_listen(args.listen, "--listen")
    service = unit(f"strata-{role}.service")["Service"]
    assert service["EnvironmentFile"] == "/etc/strata/strata.env"
    if getattr(args, "data_dir", None):
        # The directory the role writes is the one systemd creates for the unit's user.
        assert args.data_dir == "/var/lib/" + service["StateDirectory"]


def test_the_environment_file_names_only_variables_the_roles_read() -> None:
    from strata.settings import OTHER_ENVIRONMENT

    known = {entry.variable for entry in OTHER_ENVIRONMENT}
    for line in (UNITS / "strata.env").read_text().splitlines():
        line = line.lstrip("#").strip()
        if "=" in line and " " not in line.split("=", 1)[0]:
            assert line.split("=", 1)[0] in known, line


def test_every_etcd_flag_exists_in_the_installed_etcd() -> None:
    etcd = shutil.which("etcd") or "/usr/bin/etcd"
    help_text = subprocess.run([etcd, "--help"], capture_output=True, text=True, timeout=30)
    argv = exec_start("strata-etcd.service")
    assert argv[0] == "/usr/bin/etcd"
    flags = [word for word in argv[1:] if word.startswith("--")]
    assert len(flags) >= 8
    for flag in flags:
        assert f"{flag} " in help_text.stdout + help_text.stderr, flag


def test_systemd_reads_the_units_without_a_warning(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed (Debian package systemd)")
    strata = Path(sys.executable).with_name("strata")
    for path in UNITS.glob("*.service"):
        # The units name the installed binary; here the one of this checkout stands in for it.
        (tmp_path / path.name).write_text(path.read_text().replace(INSTALLED_STRATA, str(strata)))
    result = subprocess.run(
        [analyze, "verify", *sorted(str(path) for path in tmp_path.glob("*.service"))],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0 and not result.stderr.strip() and not result.stdout.strip(), (
        result.stdout + result.stderr
    )
