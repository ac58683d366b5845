"""The metadata versioning options (seed 003, 7.1.3) as pure planning functions.

Given what is stored now, each function returns the puts and deletes of one
log entry plus the blobs that no record references any more (they go to the
GC queue in the same entry). Nothing here reads or writes the store.

PUT: no options overwrites the master; ``versioning`` creates a new version and
points the master at it; ``versionId: <id>`` creates or updates that version
(and the master when that version is the latest); ``versionId: ''`` overwrites
the master only, with a fresh internal version id.
DELETE: no options deletes the master; ``versionId: <id>`` deletes that
version and, if it was the latest, repairs the master from the next newest
version (or removes it). The seed writes a PHD placeholder and repairs later;
here the repair is computed under the object's lock and written in the same
entry, so no placeholder is ever visible.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from metanode import keys
from protos.common_pb2 import BlobRef
from protos.metadata_pb2 import Intent, ObjectMD


@dataclass(frozen=True)
class ObjectMutation:
    puts: tuple[tuple[bytes, ObjectMD], ...] = ()
    deletes: tuple[bytes, ...] = ()
    released_blobs: tuple[BlobRef, ...] = ()
    issued_version_id: bool = False
    reported_version_id: str = ""  # internal id the PUT answers with ("" for a plain overwrite)
    removed: ObjectMD | None = None


def resolve_null_version(master: ObjectMD | None, replication_group_id: str | None = None) -> str | None:
    """The internal id of the object's null version; None when it has none.

    A null version kept only in the master answers its id, or "" if it never had
    one — unless ``replication_group_id`` is given, then the "non-versioned" id
    (which sorts after every real version) is answered so it can get a key.
    """
    if master is None or master.is_phd:
        return None
    if master.is_null or not master.version_id:
        if master.version_id or replication_group_id is None:
            return master.version_id
        return keys.non_versioned_version_id(replication_group_id)
    return master.null_version_id or None


def _null_version_to_remember(master: ObjectMD, master_version_kept: bool) -> str:
    """A new version remembers where the null version lives (seed: ``nullVersionId``)."""
    if master.is_phd:
        return ""
    if master.is_null or not master.version_id:
        return master.version_id if master_version_kept else ""
    return master.null_version_id


def _blob_identity(blob: BlobRef) -> tuple[str, str]:
    return blob.location, blob.blob_id


def released_blobs(dropped: Iterable[ObjectMD | Intent], kept: Iterable[ObjectMD]) -> tuple[BlobRef, ...]:
    """Blobs of ``dropped`` records that no ``kept`` record references, each once."""
    referenced = {_blob_identity(blob) for record in kept for blob in record.blobs}
    released: dict[tuple[str, str], BlobRef] = {}
    for record in dropped:
        for blob in record.blobs:
            identity = _blob_identity(blob)
            if identity not in referenced:
                released.setdefault(identity, blob)
    return tuple(released.values())


def plan_put(
    bucket_uid: str,
    record: ObjectMD,
    *,
    master: ObjectMD | None,
    master_version_kept: bool,
    existing_version: ObjectMD | None,
    versioning: bool,
    has_version_id: bool,
    target_version_id: str,
    new_version_id: Callable[[], str],
    intent: Intent | None = None,
    preserve_null_as: str = "",
    replaced_null: tuple[str, ObjectMD | None] | None = None,
) -> ObjectMutation:
    """``record`` gets its version id set; ``master_version_kept``: the current master also has its own
    version key (so overwriting the master frees nothing); ``existing_version``: the stored record of
    ``target_version_id``, if any.

    ``preserve_null_as``: a null version living only in the master is first stored under this id (the
    seed's step 3A, done in the same entry as 3B). ``replaced_null``: (id, stored record) of the null
    version a new null version replaces; its version key goes (the seed's 2A/4A in the same entry)."""
    master_key = keys.master_key(bucket_uid, record.key)
    puts: list[tuple[bytes, ObjectMD]] = []
    deletes: list[bytes] = []
    dropped: list[ObjectMD | Intent] = []
    issued = False
    if preserve_null_as and master is not None and not master_version_kept:
        kept_null = ObjectMD()
        kept_null.CopyFrom(master)
        kept_null.version_id = preserve_null_as
        kept_null.is_null = True
        puts.append((keys.version_key(bucket_uid, record.key, preserve_null_as), kept_null))
        master = kept_null
        master_version_kept = True
    if replaced_null is not None:
        null_id, null_record = replaced_null
        deletes.append(keys.version_key(bucket_uid, record.key, null_id))
        if null_record is not None:
            dropped.append(null_record)
        if master is not None and master.version_id == null_id:
            master_version_kept = False  # the master's own key is gone: overwriting it frees its blobs
    master_dropped = master is not None and not master_version_kept
    if has_version_id and target_version_id:
        record.version_id = target_version_id
        puts.append((keys.version_key(bucket_uid, record.key, target_version_id), record))
        if existing_version is not None:
            dropped.append(existing_version)
        master_is_older = (
            master is None
            or master.is_phd
            or not master.version_id
            or master.version_id == target_version_id
            or keys.is_newer_version(target_version_id, master.version_id)
        )
        if master_is_older:
            puts.append((master_key, record))
            if master_dropped and master is not None and master.version_id != target_version_id:
                dropped.append(master)
        reported = target_version_id
    else:
        if has_version_id or versioning:
            record.version_id = new_version_id()
            issued = True
        else:
            record.version_id = ""
        if versioning and not has_version_id and not record.null_version_id and master is not None:
            record.null_version_id = _null_version_to_remember(master, master_version_kept)
        puts.append((master_key, record))
        if versioning and not has_version_id:
            puts.append((keys.version_key(bucket_uid, record.key, record.version_id), record))
        if master_dropped and master is not None:
            dropped.append(master)
        reported = record.version_id
    if intent is not None:
        dropped.append(intent)
    return ObjectMutation(
        puts=tuple(puts),
        deletes=tuple(deletes),
        released_blobs=released_blobs(dropped, [record]),
        issued_version_id=issued,
        reported_version_id=reported,
    )


def plan_delete(
    bucket_uid: str,
    key: str,
    *,
    removed: ObjectMD,
    delete_version_key: bool,
    replace_master: bool,
    successor: ObjectMD | None = None,
    removed_still_referenced: bool = False,
) -> ObjectMutation:
    """Removes ``removed`` (its version key and/or the master); the master, when replaced, becomes
    ``successor`` or disappears."""
    master_key = keys.master_key(bucket_uid, key)
    puts: list[tuple[bytes, ObjectMD]] = []
    deletes: list[bytes] = []
    if delete_version_key:
        deletes.append(keys.version_key(bucket_uid, key, removed.version_id))
    if replace_master:
        if successor is not None:
            puts.append((master_key, successor))
        else:
            deletes.append(master_key)
    kept = [successor] if successor is not None else []
    released = () if removed_still_referenced else released_blobs([removed], kept)
    return ObjectMutation(puts=tuple(puts), deletes=tuple(deletes), released_blobs=released, removed=removed)
