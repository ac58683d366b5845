"""Checks a :class:`strata.testing.history.History`: what a run of the workload must never show.

- **Per-key linearizable register** (every key of every bucket; the latest version on a
  versioned bucket). A read may return only a value some write of that key wrote, and not one
  written by a write that began after the read ended. A read is *stale* when a write W' with
  another value is known to have taken effect after the read's source S and before the read
  began: S's latest possible effect < W'.invoked and W''s latest possible effect < read.invoked.
  The latest possible effect of an acknowledged write is its completion; of a write with an
  unknown outcome (5xx, timeout), the completion of the first read that saw its value, else never
  (it may still land later, so it makes nothing stale). Reads of "no such key" may come from the
  empty start or any delete that was not refused. The check is sound: what it reports is a real
  violation.
- **Final state**: the quiescent read of every key after the run is a read like the others,
  invoked after everything: an acknowledged write that should be visible and is not is a lost
  write. Bodies are self-verifying (:func:`strata.testing.history.make_body`); a corrupt body or
  a body whose ``x-amz-meta-token`` differs is a violation.
- **Versions**: a GET by version id of an acknowledged version returns exactly that version; every
  acknowledged version is listed by ListObjectVersions and readable at the end.
- **Listings**: ListObjectsV2 names exactly the keys the final reads found, with their ETag and size;
  ListObjectVersions' latest entry agrees with the final read.
- **Server errors**: a 5xx other than 503 is a violation; 503s are counted.
- **Blobs**: :func:`check_blobs` compares the datanodes' blobs with the metadata's references.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from strata.testing.history import (
    CORRUPT_PREFIX,
    DELETE,
    FAIL,
    GET,
    GET_VERSION,
    OK,
    UNKNOWN,
    WRITES,
    FinalObject,
    History,
    Operation,
)

NEVER = math.inf
BEFORE_EVERYTHING = -math.inf


@dataclass(frozen=True)
class Violation:
    kind: str  # never-written, future-read, failed-write-visible, stale-read, lost-write, corrupt-read, ...
    bucket: str
    key: str
    message: str
    op_ids: tuple[int, ...] = ()

    def describe(self) -> str:
        ops = f" (ops {', '.join(map(str, self.op_ids))})" if self.op_ids else ""
        return f"{self.kind} {self.bucket}/{self.key}: {self.message}{ops}"


@dataclass
class CheckReport:
    violations: list[Violation] = field(default_factory=list)
    operations: Counter[str] = field(default_factory=Counter)  # "put ok", "get fail", ...
    statuses: Counter[int] = field(default_factory=Counter)  # error statuses seen by the workload
    acknowledged_writes: int = 0
    reads_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def service_unavailable(self) -> int:
        return self.statuses[503]

    def kinds(self) -> Counter[str]:
        return Counter(violation.kind for violation in self.violations)

    def summary(self, limit: int = 20) -> str:
        total = sum(self.operations.values())
        lines = [
            f"{total} operations ({', '.join(f'{k}: {v}' for k, v in sorted(self.operations.items()))}); "
            f"{self.acknowledged_writes} acknowledged writes; {self.reads_checked} reads checked; "
            f"error statuses {dict(sorted(self.statuses.items()))}",
            f"{len(self.violations)} violations {dict(self.kinds())}" if self.violations else "no violations",
        ]
        lines.extend(f"  {violation.describe()}" for violation in self.violations[:limit])
        if len(self.violations) > limit:
            lines.append(f"  ... and {len(self.violations) - limit} more")
        return "\n".join(lines)


@dataclass
class _Write:
    op: Operation
    latest_effect: float  # the latest moment the write can have taken effect (NEVER: unbounded)

    @property
    def value(self) -> str | None:
        return None if self.op.kind == DELETE else self.op.value


def check_history(history: History) -> CheckReport:
    report = CheckReport()
    for op in history.operations:
        report.operations[f"{op.kind} {op.outcome}"] += 1
        if op.status is not None and op.status >= 400:
            report.statuses[op.status] += 1
        if op.status is not None and op.status >= 500 and op.status != 503:
            report.violations.append(
                Violation(
                    "server-error",
                    op.bucket,
                    op.key,
                    f"{op.kind} answered {op.status} {op.error}",
                    (op.op_id,),
                )
            )
        if op.kind in WRITES and op.outcome == OK:
            report.acknowledged_writes += 1
    by_key: dict[tuple[str, str], list[Operation]] = defaultdict(list)
    for op in history.operations:
        by_key[(op.bucket, op.key)].append(op)
    finals = {(item.bucket, item.key): item for item in history.final.objects} if history.final else {}
    for bucket_key in sorted(set(by_key) | set(finals)):
        _check_register(report, *bucket_key, by_key.get(bucket_key, []), finals.get(bucket_key))
    _check_versions(report, history)
    _check_listings(report, history)
    if history.final is not None:
        for error in history.final.errors:
            report.violations.append(Violation("final-read-failed", "-", "-", error))
    return report


def _check_register(
    report: CheckReport, bucket: str, key: str, ops: list[Operation], final: FinalObject | None
) -> None:
    writes = [op for op in ops if op.kind in WRITES and op.outcome != FAIL]
    refused = {op.value: op for op in ops if op.kind in WRITES and op.kind != DELETE and op.outcome == FAIL}
    reads = [op for op in ops if op.kind == GET and op.outcome == OK]
    if final is not None:
        reads.append(_final_as_read(final, ops))
    # A read that saw an unknown write's value bounds when that write took effect.
    first_seen: dict[str, float] = {}
    for read in reads:
        if read.value is not None:
            first_seen[read.value] = min(first_seen.get(read.value, NEVER), read.completed)
    tracked = [
        _Write(op, op.completed if op.outcome == OK else first_seen.get(op.value or "", NEVER))
        if op.kind != DELETE
        else _Write(op, op.completed if op.outcome == OK else NEVER)
        for op in writes
    ]
    by_value: dict[str | None, _Write] = {write.value: write for write in tracked if write.value is not None}
    for read in reads:
        report.reads_checked += 1
        is_final = read.op_id == 0
        source = _source_of(report, bucket, key, read, by_value, refused, tracked)
        if source is None:
            continue
        source_effect, source_ops = source
        superseding = [
            write
            for write in tracked
            if write.value != read.value
            and write.op.invoked > source_effect
            and write.latest_effect < read.invoked
        ]
        if not superseding:
            continue
        newest = max(superseding, key=lambda write: write.latest_effect)
        what = "absent" if read.value is None else read.value
        wrote = f"{newest.op.kind} of {newest.value}" if newest.value is not None else "delete"
        if is_final:
            report.violations.append(
                Violation(
                    "lost-write",
                    bucket,
                    key,
                    f"after the run the key reads {what}, but the acknowledged {wrote} came later",
                    (*source_ops, newest.op.op_id),
                )
            )
        else:
            report.violations.append(
                Violation(
                    "stale-read",
                    bucket,
                    key,
                    f"read {what}, but {wrote} took effect after it and before the read began",
                    (read.op_id, *source_ops, newest.op.op_id),
                )
            )


def _final_as_read(final: FinalObject, ops: list[Operation]) -> Operation:
    after_everything = max((op.completed for op in ops), default=0.0) + 1.0
    read = Operation(0, -1, -1, GET, final.bucket, final.key, after_everything, after_everything + 1.0)
    read.outcome = OK
    read.value = final.value
    read.etag = final.etag
    read.size = final.size
    return read


def _source_of(
    report: CheckReport,
    bucket: str,
    key: str,
    read: Operation,
    by_value: dict[str | None, _Write],
    refused: dict[str | None, Operation],
    tracked: list[_Write],
) -> tuple[float, tuple[int, ...]] | None:
    """(latest effect, op ids) of the write this read can have seen; None (and a violation) if none."""
    ids = (read.op_id,) if read.op_id else ()
    if read.value is None:
        # The empty start, or the delete that may have taken effect last before the read ended.
        deletes = [w for w in tracked if w.value is None and w.op.invoked < read.completed]
        if not deletes:
            return BEFORE_EVERYTHING, ()
        latest = max(deletes, key=lambda write: write.latest_effect)
        return latest.latest_effect, (latest.op.op_id,)
    if read.value.startswith(CORRUPT_PREFIX):
        report.violations.append(Violation("corrupt-read", bucket, key, f"read {read.value}", ids))
        return None
    write = by_value.get(read.value)
    if write is None:
        if read.value in refused:
            report.violations.append(
                Violation(
                    "failed-write-visible",
                    bucket,
                    key,
                    f"read {read.value}, whose write was refused ({refused[read.value].error})",
                    (*ids, refused[read.value].op_id),
                )
            )
        else:
            report.violations.append(
                Violation(
                    "never-written", bucket, key, f"read {read.value}, which no write of this key wrote", ids
                )
            )
        return None
    if write.op.invoked >= read.completed:
        report.violations.append(
            Violation(
                "future-read",
                bucket,
                key,
                f"read {read.value}, written only after the read ended",
                (*ids, write.op.op_id),
            )
        )
        return None
    if write.op.outcome == OK and write.op.etag and read.etag and write.op.etag != read.etag:
        report.violations.append(
            Violation(
                "corrupt-read",
                bucket,
                key,
                f"read {read.value} with ETag {read.etag}, acknowledged with {write.op.etag}",
                (*ids, write.op.op_id),
            )
        )
    return write.latest_effect, (write.op.op_id,)


def _check_versions(report: CheckReport, history: History) -> None:
    acknowledged: dict[tuple[str, str, str | None], Operation] = {
        (op.bucket, op.key, op.version_id): op
        for op in history.operations
        if op.kind in WRITES
        and op.kind != DELETE
        and op.outcome == OK
        and op.version_id
        and op.bucket in history.versioned_buckets
    }
    attempted = {
        op.value: op
        for op in history.operations
        if op.kind in WRITES and op.kind != DELETE and op.outcome != FAIL
    }
    for op in history.operations:
        if op.kind != GET_VERSION or op.outcome != OK:
            continue
        report.reads_checked += 1
        written = acknowledged.get((op.bucket, op.key, op.version_id))
        if written is not None and op.value != written.value:
            got = "nothing" if op.value is None else op.value
            report.violations.append(
                Violation(
                    "lost-version" if op.value is None else "wrong-version",
                    op.bucket,
                    op.key,
                    f"version {op.version_id} read {got}, acknowledged as {written.value}",
                    (op.op_id, written.op_id),
                )
            )
    if history.final is None:
        return
    for bucket, versions in history.final.versions.items():
        listed = {(bucket, version.key, version.version_id): version for version in versions}
        for (op_bucket, key, version_id), written in acknowledged.items():
            if op_bucket != bucket:
                continue
            version = listed.get((bucket, key, version_id or ""))
            if version is None:
                report.violations.append(
                    Violation(
                        "lost-version", bucket, key, f"version {version_id} is not listed", (written.op_id,)
                    )
                )
            elif version.value != written.value:
                report.violations.append(
                    Violation(
                        "lost-version" if version.value is None else "wrong-version",
                        bucket,
                        key,
                        f"version {version_id} reads {version.value}, acknowledged as {written.value}",
                        (written.op_id,),
                    )
                )
        for version in versions:
            if version.delete_marker or version.value is None:
                continue
            if version.value.startswith(CORRUPT_PREFIX):
                report.violations.append(
                    Violation(
                        "corrupt-read", bucket, version.key, f"version {version.version_id}: {version.value}"
                    )
                )
            elif version.value not in attempted or attempted[version.value].key != version.key:
                report.violations.append(
                    Violation(
                        "never-written",
                        bucket,
                        version.key,
                        f"listed version {version.version_id} holds {version.value}, which no write of it wrote",
                    )
                )


def _check_listings(report: CheckReport, history: History) -> None:
    if history.final is None:
        return
    finals: dict[str, dict[str, FinalObject]] = defaultdict(dict)
    for item in history.final.objects:
        finals[item.bucket][item.key] = item
    for bucket, listing in history.final.listings.items():
        present = {key: item for key, item in finals[bucket].items() if item.value is not None}
        for key in sorted(set(listing) - set(present)):
            report.violations.append(
                Violation("listing-mismatch", bucket, key, "listed, but a GET finds no such key")
            )
        for key in sorted(set(present) - set(listing)):
            report.violations.append(Violation("listing-mismatch", bucket, key, "readable, but not listed"))
        for key in sorted(set(present) & set(listing)):
            etag, size = listing[key]
            item = present[key]
            if (item.etag, item.size) != (etag, size):
                report.violations.append(
                    Violation(
                        "listing-mismatch",
                        bucket,
                        key,
                        f"listed with ETag {etag} and {size} bytes, read with {item.etag} and {item.size} bytes",
                    )
                )
    for bucket, versions in history.final.versions.items():
        latest = {version.key: version for version in versions if version.is_latest}
        for key, item in finals[bucket].items():
            version = latest.get(key)
            if item.value is None and version is not None and not version.delete_marker:
                report.violations.append(
                    Violation(
                        "listing-mismatch",
                        bucket,
                        key,
                        f"latest listed version {version.version_id}, but no such key",
                    )
                )
            elif item.value is not None and (version is None or version.version_id != item.version_id):
                listed = "nothing" if version is None else version.version_id
                report.violations.append(
                    Violation(
                        "listing-mismatch",
                        bucket,
                        key,
                        f"GET returned version {item.version_id}, the listing's latest is {listed}",
                    )
                )


def write_recovery_s(history: History, fault_prefix: str = "kill -9 ") -> list[tuple[str, float | None]]:
    """For each fault whose description starts with ``fault_prefix``: how long after it the first write
    invoked after it was acknowledged (None: none was). A figure to report, not to assert on."""
    acknowledged = sorted(
        (op.invoked, op.completed) for op in history.operations if op.kind in WRITES and op.outcome == OK
    )
    recoveries: list[tuple[str, float | None]] = []
    for at, what in history.faults:
        if not what.startswith(fault_prefix):
            continue
        after = [completed for invoked, completed in acknowledged if invoked >= at]
        recoveries.append((what, min(after) - at if after else None))
    return recoveries


@dataclass(frozen=True)
class BlobReport:
    """Blob replicas on the datanodes against the replicas the metadata references (after GC and repair)."""

    orphaned: frozenset[tuple[str, str]]  # (datanode id, blob id) stored but referenced by nothing
    missing: frozenset[tuple[str, str]]  # (datanode id, blob id) referenced but not stored there
    referenced_blobs: int
    stored_replicas: int

    @property
    def ok(self) -> bool:
        return not self.orphaned and not self.missing

    def summary(self) -> str:
        return (
            f"{self.referenced_blobs} referenced blobs, {self.stored_replicas} stored replicas, "
            f"{len(self.orphaned)} orphaned {sorted(self.orphaned)[:10]}, "
            f"{len(self.missing)} missing {sorted(self.missing)[:10]}"
        )


def check_blobs(
    stored: Iterable[tuple[str, str]], referenced: Iterable[tuple[str, str]], ignore_nodes: Iterable[str] = ()
) -> BlobReport:
    """Compares (datanode id, blob id) pairs; replicas recorded on ``ignore_nodes`` (e.g. a node killed
    for good and not yet repaired away) count as neither missing nor orphaned."""
    ignored = set(ignore_nodes)
    stored_set = {pair for pair in stored if pair[0] not in ignored}
    referenced_all = set(referenced)
    referenced_set = {pair for pair in referenced_all if pair[0] not in ignored}
    return BlobReport(
        orphaned=frozenset(stored_set - referenced_set),
        missing=frozenset(referenced_set - stored_set),
        referenced_blobs=len({blob for _, blob in referenced_all}),
        stored_replicas=len(stored_set),
    )


__all__ = ["UNKNOWN", "BlobReport", "CheckReport", "Violation", "check_blobs", "check_history"]
