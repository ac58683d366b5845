"""A command that cannot start says why in one line on stderr and exits with status 2, never a traceback."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from metanode.kv import RocksKV


def run_strata(
    args: list[str], cwd: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("S3", "SCALITY_", "LOG_LEVEL", "LISTEN_"))
    }
    return subprocess.run(
        [sys.executable, "-m", "strata.cli", *args],
        cwd=cwd,
        env={**clean, **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )


def assert_one_line_failure(done: subprocess.CompletedProcess[str], *words: str) -> str:
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2, (done.returncode, done.stdout, done.stderr)
    assert "Traceback" not in done.stderr + done.stdout
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("strata: "), lines[0]
    for word in words:
        assert word in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def taken_port() -> Iterator[int]:
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield int(holder.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "env", "words"),
    [
        (["server", "--port", "99999"], {}, ("--port", "99999")),
        (["server", "--port", "eighty"], {}, ("--port", "eighty")),
        (
            ["server", "--port", "0", "--host", "no-such-host.invalid"],
            {},
            ("no-such-host.invalid", "resolve"),
        ),
        (["server", "--port", "0"], {"LOG_LEVEL": "bogus"}, ("LOG_LEVEL", "bogus")),
        (["server", "--port", "0"], {"SCALITY_ACCESS_KEY_ID": "someKey"}, ("SCALITY_SECRET_ACCESS_KEY",)),
        (["server", "--port", "0"], {"SCALITY_SECRET_ACCESS_KEY": "someSecret"}, ("SCALITY_ACCESS_KEY_ID",)),
        (["server", "--port", "0"], {"S3METADATA": "mongodb"}, ("S3METADATA", "mongodb")),
        (["server", "--port", "0"], {"S3METADATA": "scality"}, ("S3METADATA", "scality")),
        (["server", "--port", "0"], {"S3DATA": "scality"}, ("S3DATA", "scality")),
        (["server", "--port", "0"], {"S3BACKEND": "mongodb"}, ("S3BACKEND", "mongodb")),
        (["gateway", "--port", "99999"], {}, ("--port", "99999")),
        (["gateway", "--port", "0", "--host", "no-such-host.invalid"], {}, ("no-such-host.invalid",)),
        (["gateway", "--port", "0", "--host", "127.0.0.1"], {"SCALITY_ACCESS_KEY_ID": "k"}, ("SCALITY_",)),
        (["datanode", "--listen", "127.0.0.1:99999"], {}, ("--listen", "99999")),
        (["datanode", "--listen", "127.0.0.1:0"], {"LOG_LEVEL": "bogus"}, ("LOG_LEVEL",)),
        (["metanode", "--listen", "nonsense", "--data-dir", "meta"], {}, ("--listen", "nonsense")),
        (["gateway", "--port", "0", "--etcd", "127.0.0.1:1"], {}, ("etcd at 127.0.0.1:1", "not reachable")),
    ],
)
def test_bad_setting_is_one_line_and_status_2(
    tmp_path: Path, args: list[str], env: dict[str, str], words: tuple[str, ...]
) -> None:
    assert_one_line_failure(run_strata(args, tmp_path, env), *words)


@pytest.mark.parametrize("role", ["server", "gateway", "metanode", "datanode"])
def test_port_in_use_is_one_line_and_status_2(tmp_path: Path, taken_port: int, role: str) -> None:
    if role in ("server", "gateway"):
        args = [role, "--host", "127.0.0.1", "--port", str(taken_port)]
    else:
        args = [role, "--listen", f"127.0.0.1:{taken_port}", "--data-dir", "state"]
    assert_one_line_failure(run_strata(args, tmp_path), "already in use", str(taken_port))


def test_bad_authdata_file_is_one_line_and_status_2(tmp_path: Path) -> None:
    (tmp_path / "authdata.json").write_text('{"accounts": [{"name": "nobody"}]')
    done = run_strata(["server", "--port", "0"], tmp_path, {"S3AUTH_CONFIG": "authdata.json"})
    assert_one_line_failure(done, "authdata.json")
    (tmp_path / "authdata.json").write_text('{"accounts": [{"name": "nobody"}]}')
    done = run_strata(["server", "--port", "0"], tmp_path, {"S3AUTH_CONFIG": "authdata.json"})
    assert_one_line_failure(done, "canonicalID")
    assert not (tmp_path / "localMetadata").exists()


@pytest.mark.parametrize("variable", ["S3DATAPATH", "S3METADATAPATH"])
def test_unusable_storage_directory_is_one_line_and_status_2(tmp_path: Path, variable: str) -> None:
    (tmp_path / "a-file").write_text("not a directory")
    done = run_strata(["server", "--port", "0"], tmp_path, {variable: "a-file"})
    assert_one_line_failure(done, variable, "a-file", "not a directory")
    done = run_strata(["server", "--port", "0"], tmp_path, {variable: "a-file/below"})
    assert_one_line_failure(done, variable, "a-file/below")


@pytest.mark.parametrize("role", ["server", "metanode"])
def test_second_process_on_the_same_metadata_directory_is_refused(tmp_path: Path, role: str) -> None:
    held = RocksKV(str(tmp_path / "meta"))  # holds RocksDB's LOCK, as a running server does
    try:
        if role == "server":
            done = run_strata(["server", "--port", "0"], tmp_path, {"S3METADATAPATH": "meta"})
        else:
            done = run_strata(["metanode", "--listen", "127.0.0.1:0", "--data-dir", "meta"], tmp_path)
        assert_one_line_failure(done, "meta", "in use by another process")
    finally:
        held.close()


def test_version_and_help_of_every_option() -> None:
    from importlib import metadata

    from strata.cli import build_parser

    done = subprocess.run(
        [sys.executable, "-m", "strata.cli", "--version"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0 and done.stdout.strip() == f"strata {metadata.version('strata')}"
    undocumented = []
    pending = [("strata", build_parser())]
    while pending:
        name, parser = pending.pop()
        for action in parser._actions:
            choices = getattr(action, "choices", None)
            if isinstance(choices, dict):
                pending.extend((f"{name} {sub}", child) for sub, child in choices.items())
            elif not action.help:
                undocumented.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    assert undocumented == []
