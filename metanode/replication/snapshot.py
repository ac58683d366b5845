"""Snapshots: a RocksDB checkpoint of the leader, streamed over gRPC to a follower whose log
cannot be matched (too far behind the leader's trimmed log, or diverged).

The follower writes the files beside its directory (``<dir>.incoming``), marks the copy
complete, then swaps it in (``swap_in``); ``recover`` finishes a swap a crash interrupted.
Every function here blocks: call them off the event loop.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

from rocksdict import AccessType, Checkpoint, Options, Rdict

from metanode import keys
from metanode.kv import RocksKV
from metanode.replication.log import Position

CHUNK = 1 << 20
COMPLETE_MARK = "SNAPSHOT-COMPLETE"


def create(kv: RocksKV, directory: Path) -> Position:
    """Writes a checkpoint of ``kv`` into ``directory`` (must not exist); returns its log tip."""
    Checkpoint(kv.db).create_checkpoint(str(directory))
    options = Options(raw_mode=True)
    snapshot = Rdict(str(directory), options, access_type=AccessType.read_only())
    try:
        index = keys.decode_counter(snapshot.get(keys.LAST_LOG_INDEX_KEY))
        term = keys.decode_counter(snapshot.get(keys.LAST_LOG_TERM_KEY))
    finally:
        snapshot.close()
    return Position(index, term)


def files(directory: Path) -> Iterator[tuple[str, bytes]]:
    """(relative name, next bytes) for every file of the checkpoint, in 1 MiB pieces (an empty
    file yields one empty piece)."""
    for path in sorted(directory.rglob("*")):
        if not path.is_file():
            continue
        name = str(path.relative_to(directory))
        with open(path, "rb") as source:
            first = True
            while True:
                data = source.read(CHUNK)
                if not data and not first:
                    break
                yield name, data
                first = False
                if not data:
                    break


def incoming_dir(data_dir: Path) -> Path:
    return data_dir.with_name(data_dir.name + ".incoming")


def start_incoming(data_dir: Path) -> Path:
    target = incoming_dir(data_dir)
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    return target


def append(target: Path, name: str, data: bytes) -> None:
    path = (target / name).resolve()
    if target.resolve() not in path.parents:
        raise ValueError(f"snapshot file {name!r} is outside the snapshot")
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab") as out:
        out.write(data)


def _fsync_tree(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            fd = os.open(path, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def finish_incoming(target: Path) -> None:
    """Makes the received copy durable and marks it complete."""
    _fsync_tree(target)
    (target / COMPLETE_MARK).write_bytes(b"")
    _fsync_tree(target)


def swap_in(data_dir: Path) -> None:
    """Replaces ``data_dir`` (closed) by the complete incoming copy."""
    target = incoming_dir(data_dir)
    old = data_dir.with_name(data_dir.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if data_dir.exists():
        os.rename(data_dir, old)
    os.rename(target, data_dir)
    (data_dir / COMPLETE_MARK).unlink(missing_ok=True)
    fd = os.open(data_dir.parent, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    shutil.rmtree(old, ignore_errors=True)


def recover(data_dir: Path) -> None:
    """At start: completes a swap a crash interrupted, drops an incomplete copy."""
    target = incoming_dir(data_dir)
    if target.exists():
        if (target / COMPLETE_MARK).exists():
            swap_in(data_dir)
        else:
            shutil.rmtree(target, ignore_errors=True)
    shutil.rmtree(data_dir.with_name(data_dir.name + ".old"), ignore_errors=True)
