"""Where the disk backend moves corrupt blob files: aside, never served again, kept for inspection.

Layout under the backend's root::

    root/quarantine/<blob_id>/<unix_ns>     a corrupt copy, moved there when a read or a scrub found it
    root/quarantine/<blob_id>/released      the blob was deleted since: nothing needs healing any more

A quarantined blob whose path is empty and that was not released is *unhealed*: some other
replica should be copied back (the coordinator's scrubber does it). Once a healed copy is
stored at the blob's path again, the quarantined files stay as evidence but ask for nothing.

Every function here does blocking file I/O: call them from the backend's thread pool.
"""

from __future__ import annotations

import logging
import os
import re
import time
from collections.abc import Callable

from strata.runtime.log import log_fields

QUARANTINE_DIR = "quarantine"
_RELEASED = "released"
_BLOB_NAME = re.compile(r"[0-9a-f]{32}")

log = logging.getLogger("datanode.quarantine")

FileIdentity = tuple[int, int]
"""(st_dev, st_ino) of the file found corrupt."""


def identity_of(fd: int) -> FileIdentity:
    stat = os.fstat(fd)
    return stat.st_dev, stat.st_ino


def _fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def quarantine(root: str, blob_path: str, blob_id: str, found: FileIdentity, why: str) -> bool:
    """Moves the corrupt file ``found`` away from ``blob_path``; True if it was moved.

    Only that very file moves: if a healed copy replaced it meanwhile, the path is left alone.
    """
    try:
        stat = os.stat(blob_path)
    except FileNotFoundError:
        return False
    if (stat.st_dev, stat.st_ino) != found:
        return False
    blob_dir = os.path.join(root, QUARANTINE_DIR, blob_id)
    os.makedirs(blob_dir, exist_ok=True)
    target = os.path.join(blob_dir, str(time.time_ns()))
    try:
        os.rename(blob_path, target)
    except FileNotFoundError:
        return False  # deleted (or quarantined by another reader) just now
    # A marker from an earlier delete must not hide this new corruption.
    released = os.path.join(blob_dir, _RELEASED)
    if os.path.exists(released):
        os.unlink(released)
    _fsync_dir(os.path.dirname(blob_path))
    _fsync_dir(blob_dir)
    _fsync_dir(os.path.dirname(blob_dir))
    log.error(
        "corrupt blob quarantined: it is no longer served and needs a healed copy",
        extra=log_fields(blob_id=blob_id, why=why, quarantined_as=target),
    )
    return True


def release(root: str, blob_id: str) -> None:
    """Notes that ``blob_id`` was deleted: its quarantined copies no longer ask for healing."""
    blob_dir = os.path.join(root, QUARANTINE_DIR, blob_id)
    if not os.path.isdir(blob_dir):
        return
    with open(os.path.join(blob_dir, _RELEASED), "wb") as marker:
        os.fsync(marker.fileno())


def quarantined_copies(root: str, blob_id: str) -> list[str]:
    """Paths of the quarantined copies of ``blob_id``, oldest first."""
    blob_dir = os.path.join(root, QUARANTINE_DIR, blob_id)
    try:
        names = sorted((name for name in os.listdir(blob_dir) if name.isdigit()), key=int)
    except FileNotFoundError:
        return []
    return [os.path.join(blob_dir, name) for name in names]


def unhealed(root: str, blob_path_of: Callable[[str], str]) -> list[str]:
    """Ids of quarantined blobs neither healed (no file at their path) nor released."""
    base = os.path.join(root, QUARANTINE_DIR)
    try:
        entries = list(os.scandir(base))
    except FileNotFoundError:
        return []
    waiting = []
    for entry in entries:
        if not (entry.is_dir() and _BLOB_NAME.fullmatch(entry.name)):
            continue
        if os.path.exists(os.path.join(entry.path, _RELEASED)):
            continue
        if not os.path.exists(blob_path_of(entry.name)):
            waiting.append(entry.name)
    return sorted(waiting)
