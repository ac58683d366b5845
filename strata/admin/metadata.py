"""``strata admin metadata backup DIR`` / ``restore BACKUP --data-dir DIR``: a shard's metadata, copied.

``backup`` asks each shard's leader for a fresh RocksDB checkpoint (``ReadSnapshot``, the stream a
follower catching up gets) once everything in it is committed, and writes it to ``DIR/<shard>/``
with a ``manifest.json`` (shard, cluster, the log position and term it is at, every file's size and
SHA-256). The shard keeps serving meanwhile. A backup is written to ``<shard>.partial`` and renamed
when complete, so a directory named after the shard is always a whole backup.

``restore`` is offline: it checks the backup against its manifest, copies it into a metanode's
(empty or absent) ``--data-dir`` and, with ``--node-id``, makes that replica the shard's only
in-sync one in etcd, so it is the one elected and the others (started empty) copy from it. It
refuses while any replica of the shard leads: stop them all first (docs/operations.md).
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import os
import shutil
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from strata.admin.output import add_json_option, print_json, run_command
from strata.admin.progress import ProgressBar, human_bytes
from strata.admin.target import add_target_options, etcd_endpoint

if TYPE_CHECKING:
    from coordinator.etcd import EtcdClient

FORMAT = "strata-metadata-backup"
VERSION = 1
MANIFEST = "manifest.json"
READ_TIMEOUT_S = 3600.0


def _error(reason_name: str, message: str) -> Exception:
    from protos.common_pb2 import ErrorReason
    from protos.errors import StrataError

    return StrataError(ErrorReason.Value(reason_name), message)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# ---- backup ----------------------------------------------------------------------------------------


async def _shard_ids(etcd: EtcdClient, cluster: str) -> list[str]:
    from strata.admin.config import read_shard_members

    return list(await read_shard_members(etcd, cluster))


async def _candidates(etcd: EtcdClient, cluster: str, shard: str) -> list[str]:
    """The shard's metanode addresses, the elected leader's first."""
    from coordinator.registry import NodeWatcher
    from coordinator.shard_leaders import ShardLeaders

    metanodes = NodeWatcher(etcd, cluster, "metanode")
    await metanodes.start()
    leaders = ShardLeaders(etcd, cluster, metanodes, timeout_s=READ_TIMEOUT_S)
    try:
        return await leaders.candidates(shard)
    finally:
        await leaders.close()
        await metanodes.close()


class _Writer:
    """Writes the streamed files of one checkpoint under ``target``, hashing as it goes."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.sizes: dict[str, int] = {}
        self._hashes: dict[str, Any] = {}

    def add(self, name: str, data: bytes) -> None:
        path = (self.target / name).resolve()
        if self.target.resolve() not in path.parents:
            raise _error("INTERNAL", f"the leader sent a file outside the checkpoint: {name!r}")
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "ab") as out:
            out.write(data)
        self.sizes[name] = self.sizes.get(name, 0) + len(data)
        self._hashes.setdefault(name, hashlib.sha256()).update(data)

    def digests(self) -> dict[str, str]:
        return {name: digest.hexdigest() for name, digest in self._hashes.items()}


async def _read_from(address: str, shard: str, writer: _Writer, bar: ProgressBar) -> dict[str, Any]:
    """Streams the shard's checkpoint from ``address`` into ``writer``; returns the header fields."""
    import grpc

    from protos import metadata_pb2_grpc
    from protos.errors import from_rpc_error
    from protos.metadata_pb2 import ReadSnapshotRequest

    header: dict[str, Any] = {}
    received = 0
    async with grpc.aio.insecure_channel(address) as channel:
        stub = metadata_pb2_grpc.ReplicationServiceStub(channel)
        try:
            async for chunk in stub.ReadSnapshot(ReadSnapshotRequest(shard=shard), timeout=READ_TIMEOUT_S):
                if not header:
                    header = {
                        "term": chunk.term,
                        "leader": chunk.leader_id,
                        "last_index": chunk.last_index,
                        "last_term": chunk.last_term,
                    }
                    continue
                await asyncio.to_thread(writer.add, chunk.file, chunk.data)
                received += len(chunk.data)
                bar.update(len(writer.sizes), len(writer.sizes), human_bytes(received))
        except grpc.aio.AioRpcError as error:
            raise from_rpc_error(error) from error
    if not header:
        raise _error("INTERNAL", f"{address} sent no checkpoint")
    return header


async def backup_shard(
    etcd: EtcdClient, cluster: str, shard: str, out: Path, bar: ProgressBar
) -> dict[str, Any]:
    """Writes ``out/<shard>/`` (refusing to replace one); returns its manifest."""
    from protos.common_pb2 import ErrorReason
    from protos.errors import StrataError

    final, partial = out / shard, out / f"{shard}.partial"
    last: StrataError | None = None
    for address in await _candidates(etcd, cluster, shard):
        await asyncio.to_thread(_start, final, partial)
        writer = _Writer(partial)
        try:
            header = await _read_from(address, shard, writer, bar)
        except StrataError as error:
            if error.reason not in (ErrorReason.NOT_LEADER, ErrorReason.BACKEND_UNAVAILABLE):
                raise
            last = error
            continue
        digests = writer.digests()
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "cluster": cluster,
            "shard": shard,
            "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            **header,
            "files": {
                name: {"size": size, "sha256": digests[name]} for name, size in sorted(writer.sizes.items())
            },
        }
        await asyncio.to_thread(_seal, partial, final, manifest)
        return manifest
    await asyncio.to_thread(shutil.rmtree, partial, True)
    raise _error(
        "BACKEND_UNAVAILABLE" if last is None else ErrorReason.Name(last.reason),
        f"no metanode of shard {shard} answered as its leader" + (f" (last: {last.message})" if last else ""),
    )


def _start(final: Path, partial: Path) -> None:
    if final.exists():
        raise _error("CONFLICT", f"{final} exists: back up into another directory")
    shutil.rmtree(partial, ignore_errors=True)
    partial.mkdir(parents=True)


def _seal(partial: Path, final: Path, manifest: dict[str, Any]) -> None:
    """Writes the manifest, makes the backup durable and gives it the shard's name."""
    (partial / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    _durable(partial)
    os.rename(partial, final)
    _fsync(final.parent)


def _durable(directory: Path) -> None:
    for path in directory.rglob("*"):
        if path.is_file():
            _fsync(path)
    _fsync(directory)


async def _backup(args: argparse.Namespace) -> int:
    from coordinator.etcd import EtcdClient

    out = Path(args.out)
    await asyncio.to_thread(out.mkdir, parents=True, exist_ok=True)
    etcd = await EtcdClient.connect(etcd_endpoint(args))
    try:
        shards = args.shard or await _shard_ids(etcd, args.cluster)
        if not shards:
            raise _error("INVALID_ARGUMENT", f"cluster {args.cluster!r} has no shard")
        manifests = []
        for shard in shards:
            bar = ProgressBar(f"backup {shard}", enabled=not args.json)
            manifest = await backup_shard(etcd, args.cluster, shard, out, bar)
            total = sum(int(item["size"]) for item in manifest["files"].values())
            bar.finish(len(manifest["files"]), len(manifest["files"]), human_bytes(total))
            manifests.append({**manifest, "directory": str(out / shard), "bytes": total})
    finally:
        await etcd.close()
    if args.json:
        print_json({"backups": manifests})
    else:
        for item in manifests:
            print(
                f"{item['shard']}: {item['directory']} -- log index {item['last_index']} (term {item['term']}), "
                f"{len(item['files'])} files, {human_bytes(item['bytes'])}"
            )
    return 0


# ---- restore ---------------------------------------------------------------------------------------


def verify(backup: Path) -> dict[str, Any]:
    """The backup's manifest, once every file it names has its size and SHA-256."""
    try:
        manifest = json.loads((backup / MANIFEST).read_text())
    except (OSError, ValueError) as error:
        raise _error("INVALID_ARGUMENT", f"{backup} is not a metadata backup: {error}") from error
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise _error("INVALID_ARGUMENT", f"{backup / MANIFEST} is not a {FORMAT} manifest")
    for name, expected in manifest.get("files", {}).items():
        path = backup / name
        digest = hashlib.sha256()
        size = 0
        try:
            with open(path, "rb") as source:
                while block := source.read(1 << 20):
                    digest.update(block)
                    size += len(block)
        except OSError as error:
            raise _error("INVALID_ARGUMENT", f"backup file {name} cannot be read: {error}") from error
        if size != expected.get("size") or digest.hexdigest() != expected.get("sha256"):
            raise _error("INVALID_ARGUMENT", f"backup file {name} does not match the manifest (damaged?)")
    return manifest


def install(backup: Path, manifest: dict[str, Any], data_dir: Path) -> None:
    """Copies the verified backup into ``data_dir`` (absent or empty), durably, then checks it opens."""
    from rocksdict import AccessType, Options, Rdict

    from metanode import keys

    if data_dir.exists() and any(data_dir.iterdir()):
        raise _error("CONFLICT", f"{data_dir} is not empty: move it aside first")
    incoming = data_dir.with_name(data_dir.name + ".restoring")
    shutil.rmtree(incoming, ignore_errors=True)
    incoming.mkdir(parents=True)
    for name in manifest["files"]:
        (incoming / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(backup / name, incoming / name)
    _durable(incoming)
    if data_dir.exists():
        data_dir.rmdir()
    os.rename(incoming, data_dir)
    _fsync(data_dir.parent)
    store = Rdict(str(data_dir), Options(raw_mode=True), access_type=AccessType.read_only())
    try:
        index = keys.decode_counter(store.get(keys.LAST_LOG_INDEX_KEY))
    finally:
        store.close()
    if index != int(manifest["last_index"]):
        raise _error(
            "INTERNAL", f"the restored store is at log index {index}, the backup at {manifest['last_index']}"
        )


async def make_only_in_sync(etcd: EtcdClient, cluster: str, shard: str, node_id: str) -> None:
    """Records ``node_id`` as the shard's only in-sync replica; refused while the shard has a leader."""
    from coordinator.keyspace import keyspace
    from metanode.replication.membership import Isr

    keys = keyspace(cluster)
    holder = await etcd.get(keys.shard_leader(shard))
    if holder is not None:
        raise _error(
            "PRECONDITION_FAILED",
            f"shard {shard} has a leader ({holder.decode(errors='replace')}): stop every metanode of the shard first",
        )
    members = await etcd.get(keys.shard_members(shard))
    if members is None or node_id not in json.loads(members).get("members", []):
        raise _error("INVALID_ARGUMENT", f"{node_id} is not a member of shard {shard} in cluster {cluster!r}")
    await etcd.put(keys.shard_isr(shard), Isr(0, (node_id,), 0).encode())


async def _restore(args: argparse.Namespace) -> int:
    from coordinator.etcd import EtcdClient

    backup = Path(args.backup)
    manifest = await asyncio.to_thread(verify, backup)
    shard = str(manifest["shard"])
    etcd = await EtcdClient.connect(etcd_endpoint(args)) if args.node_id else None
    try:
        if etcd is not None:  # checked before anything is copied: a running shard is never touched
            await make_only_in_sync(etcd, args.cluster, shard, args.node_id)
        await asyncio.to_thread(install, backup, manifest, Path(args.data_dir))
    finally:
        if etcd is not None:
            await etcd.close()
    summary = {
        "shard": shard,
        "data_dir": str(args.data_dir),
        "last_index": manifest["last_index"],
        "in_sync": [args.node_id] if args.node_id else None,
    }
    if args.json:
        print_json(summary)
    else:
        print(f"restored shard {shard} at log index {manifest['last_index']} into {args.data_dir}")
        if args.node_id:
            print(f"{args.node_id} is the shard's only in-sync replica: start it first, the others empty")
        else:
            print(
                "etcd unchanged (no --node-id): the replica must be made the only in-sync one before it starts"
            )
    return 0


# ---- the commands ----------------------------------------------------------------------------------


def add_commands(actions: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    metadata = actions.add_parser("metadata", help="back up a running cluster's metadata, restore it offline")
    commands = metadata.add_subparsers(dest="metadata_command", required=True)

    backup = commands.add_parser("backup", help="copy each shard's metadata from its leader into a directory")
    backup.add_argument("out", help="directory to write <shard>/ backups into (created if absent)")
    backup.add_argument(
        "--shard", action="append", help="a shard to back up (repeatable; default: every shard)"
    )
    add_target_options(backup)
    add_json_option(backup)
    backup.set_defaults(run=lambda args: run_command("metadata backup", _backup(args)))

    restore = commands.add_parser("restore", help="put a backup into a stopped metanode's data directory")
    restore.add_argument("backup", help="a shard's backup directory (DIR/<shard> as backup wrote it)")
    restore.add_argument("--data-dir", required=True, help="the metanode's --data-dir (absent or empty)")
    restore.add_argument(
        "--node-id", default=None, help="that metanode's id: made the shard's only in-sync replica in etcd"
    )
    add_target_options(restore)
    add_json_option(restore)
    restore.set_defaults(run=lambda args: run_command("metadata restore", _restore(args)))
