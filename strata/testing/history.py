"""A concurrent S3 workload that records every operation, for :mod:`strata.testing.checker`.

    workload = Workload(gateway_urls, WorkloadSpec(workers=6))
    workload.prepare()                 # creates the buckets (versioning on for one)
    history = workload.run(duration_s=30, during=inject_faults)
    workload.read_final_state(history)  # quiescent reads, listings, every listed version

Workers (threads, each with its own boto3 clients, one per gateway, retries off) pick an
operation at random over a small key space, so keys collide: PUT (an overwrite when the key
exists), GET, DELETE, single-part multipart uploads, and on a versioned bucket PUT, GET and
GET by version id. Every write carries a unique token, in the body (which is derived from the
token, so a read can tell a corrupt body from a right one) and in ``x-amz-meta-token``.

An operation's ``outcome`` is what the client may conclude: ``ok`` (acknowledged), ``fail``
(refused with a 4xx: it did not take effect) or ``unknown`` (a 5xx, a timeout, a dropped
connection: a write may or may not have taken effect).
"""

from __future__ import annotations

import hashlib
import itertools
import json
import random
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

_T = TypeVar("_T")

OK = "ok"
FAIL = "fail"
UNKNOWN = "unknown"

PUT = "put"
GET = "get"
DELETE = "delete"
MULTIPART = "multipart"
GET_VERSION = "get_version"
WRITES = frozenset({PUT, DELETE, MULTIPART})

CORRUPT_PREFIX = "corrupt:"  # a read value that is no well-formed body: never a written token
TOKEN_HEADER = "token"  # x-amz-meta-token

ACCESS_KEY = "accessKey1"
SECRET_KEY = "verySecretKey1"


def make_body(token: str, size: int) -> bytes:
    """The body written for ``token``: the token and the size, a newline, then bytes derived from the token."""
    head = f"{token} {size}\n".encode("ascii")
    seed = hashlib.sha256(head).digest()
    filler_size = max(0, size - len(head))
    filler = (seed * (filler_size // len(seed) + 1))[:filler_size]
    return head + filler


def token_of(body: bytes) -> str:
    """The token a body was made from, or a ``corrupt:`` marker when it is no body :func:`make_body` made
    (a changed byte, a truncated or extended body)."""
    head, newline, _ = body.partition(b"\n")
    token, _, size = head.decode("ascii", "replace").partition(" ")
    if newline and token and size.isdigit() and make_body(token, int(size)) == body:
        return token
    return CORRUPT_PREFIX + hashlib.sha256(body).hexdigest()[:16] + f"/{len(body)}B"


@dataclass
class Operation:
    """One client operation as the client saw it (monotonic times, seconds)."""

    op_id: int
    worker: int
    gateway: int  # index into the gateway list
    kind: str  # put, get, delete, multipart, get_version
    bucket: str
    key: str
    invoked: float
    completed: float = 0.0
    outcome: str = UNKNOWN
    value: str | None = None  # written token (writes), token read (reads; None: no such key)
    version_id: str | None = None  # the version written / requested / read
    status: int | None = None  # HTTP status of an error answer
    error: str | None = None  # S3 error code or client exception
    etag: str | None = None
    size: int | None = None
    delete_marker: bool = False


@dataclass
class FinalObject:
    """A quiescent read of one key after the run."""

    bucket: str
    key: str
    value: str | None  # None: no such key
    etag: str | None = None
    size: int | None = None
    version_id: str | None = None


@dataclass
class ListedVersion:
    key: str
    version_id: str
    is_latest: bool
    delete_marker: bool
    etag: str | None = None
    size: int | None = None
    value: str | None = None  # what a GET of this version returned (None: not found)


@dataclass
class FinalState:
    objects: list[FinalObject] = field(default_factory=list)
    listings: dict[str, dict[str, tuple[str, int]]] = field(
        default_factory=dict
    )  # bucket -> key -> (etag, size)
    versions: dict[str, list[ListedVersion]] = field(default_factory=dict)  # versioned bucket -> versions
    errors: list[str] = field(default_factory=list)  # final reads that never succeeded


@dataclass
class History:
    operations: list[Operation] = field(default_factory=list)
    final: FinalState | None = None
    versioned_buckets: list[str] = field(default_factory=list)
    faults: list[tuple[float, str]] = field(default_factory=list)  # (monotonic time, what was injected)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=1)

    @classmethod
    def from_json(cls, text: str) -> History:
        raw = json.loads(text)
        final = raw.get("final")
        return cls(
            [Operation(**op) for op in raw["operations"]],
            FinalState(
                [FinalObject(**item) for item in final["objects"]],
                {b: {k: (v[0], v[1]) for k, v in keys.items()} for b, keys in final["listings"].items()},
                {b: [ListedVersion(**v) for v in versions] for b, versions in final["versions"].items()},
                final["errors"],
            )
            if final
            else None,
            raw.get("versioned_buckets", []),
            [(float(at), str(what)) for at, what in raw.get("faults", [])],
        )

    def save(self, path: Path) -> None:
        path.write_text(self.to_json())


@dataclass(frozen=True)
class WorkloadSpec:
    workers: int = 6
    keys: int = 8  # per bucket: few, so that writes and reads of one key overlap
    plain_bucket: str = "history-plain"
    versioned_bucket: str = "history-versioned"
    small_body: tuple[int, int] = (100, 4_000)  # stored inline in the metadata
    large_body: tuple[int, int] = (70_000, 200_000)  # stored as blobs on the datanodes
    large_share: float = 0.3
    request_timeout_s: float = 20.0
    # Relative weights of the operations on each bucket.
    plain_mix: tuple[tuple[str, int], ...] = ((PUT, 30), (GET, 35), (DELETE, 8), (MULTIPART, 5))
    versioned_mix: tuple[tuple[str, int], ...] = ((PUT, 12), (GET, 10), (GET_VERSION, 8), (DELETE, 3))
    versioned_share: float = 0.35
    seed: int | None = None


def s3_client(url: str, timeout_s: float) -> Any:
    """A boto3 client that makes exactly one attempt per call, so each outcome is the server's own."""
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=3,
            read_timeout=timeout_s,
            max_pool_connections=4,
        ),
    )


class Workload:
    """Drives the operations through every gateway and records them into a :class:`History`."""

    def __init__(self, gateway_urls: list[str], spec: WorkloadSpec | None = None) -> None:
        if not gateway_urls:
            raise ValueError("the workload needs at least one gateway")
        self.gateway_urls = list(gateway_urls)
        self.spec = spec or WorkloadSpec()
        self.run_id = uuid.uuid4().hex[:8]
        self._op_ids = itertools.count(1)
        self._tokens = itertools.count(1)
        self._lock = threading.Lock()
        # Acknowledged versions, for GET by version id: (key, version_id).
        self._versions: list[tuple[str, str]] = []

    @property
    def keys(self) -> list[str]:
        return [f"key-{index:02d}" for index in range(self.spec.keys)]

    @property
    def buckets(self) -> list[str]:
        return [self.spec.plain_bucket, self.spec.versioned_bucket]

    def prepare(self) -> None:
        """Creates the buckets; versioning is enabled on the versioned one."""
        client = s3_client(self.gateway_urls[0], self.spec.request_timeout_s)
        for bucket in self.buckets:
            client.create_bucket(Bucket=bucket)
        client.put_bucket_versioning(
            Bucket=self.spec.versioned_bucket, VersioningConfiguration={"Status": "Enabled"}
        )

    def run(
        self,
        duration_s: float,
        during: Callable[[History], None] | None = None,
        max_ops: int | None = None,
        tail_s: float = 5.0,
    ) -> History:
        """Runs the workers while ``during`` runs in this thread (injecting faults, say), then ``tail_s`` more
        so the workload sees the cluster after the last fault; without ``during``, for ``duration_s``.
        ``duration_s`` bounds the run in any case, as ``max_ops`` bounds the operations."""
        history = History(versioned_buckets=[self.spec.versioned_bucket])
        stop = threading.Event()
        deadline = time.monotonic() + duration_s
        seed = self.spec.seed if self.spec.seed is not None else random.randrange(2**32)
        threads = [
            threading.Thread(
                target=self._worker,
                args=(index, random.Random(seed + index), history, stop, deadline, max_ops),
                name=f"workload-{index}",
                daemon=True,
            )
            for index in range(self.spec.workers)
        ]
        for thread in threads:
            thread.start()
        try:
            if during is not None:
                during(history)
                stop.wait(max(0.0, min(tail_s, deadline - time.monotonic())))
            else:
                stop.wait(max(0.0, deadline - time.monotonic()))
        finally:
            stop.set()
            for thread in threads:
                thread.join(2 * self.spec.request_timeout_s + 30)
        history.operations.sort(key=lambda op: op.op_id)
        return history

    # ---- workers -----------------------------------------------------------------------------------------

    def _worker(
        self,
        index: int,
        rng: random.Random,
        history: History,
        stop: threading.Event,
        deadline: float,
        max_ops: int | None,
    ) -> None:
        clients = [s3_client(url, self.spec.request_timeout_s) for url in self.gateway_urls]
        while not stop.is_set() and time.monotonic() < deadline:
            if max_ops is not None and len(history.operations) >= max_ops:
                return
            versioned = rng.random() < self.spec.versioned_share
            bucket = self.spec.versioned_bucket if versioned else self.spec.plain_bucket
            mix = self.spec.versioned_mix if versioned else self.spec.plain_mix
            kind = rng.choices([name for name, _ in mix], [weight for _, weight in mix])[0]
            gateway = rng.randrange(len(clients))
            op = Operation(
                next(self._op_ids), index, gateway, kind, bucket, rng.choice(self.keys), time.monotonic()
            )
            try:
                self._perform(clients[gateway], op, rng)
            except ClientError as error:
                self._record_client_error(op, error)
            except BotoCoreError as error:
                op.error = type(error).__name__
                op.outcome = UNKNOWN if op.kind in WRITES else FAIL
            except Exception as error:  # noqa: BLE001 - any client-side failure is an outcome to record
                op.error = f"{type(error).__name__}: {error}"
                op.outcome = UNKNOWN if op.kind in WRITES else FAIL
            op.completed = time.monotonic()
            history.operations.append(op)
            if op.outcome != OK and op.kind in WRITES:
                time.sleep(rng.uniform(0.01, 0.05))  # do not spin on a cluster that is refusing writes

    def _token(self) -> str:
        return f"{self.run_id}-{next(self._tokens):06d}-{uuid.uuid4().hex[:8]}"

    def _body_size(self, rng: random.Random) -> int:
        low, high = self.spec.large_body if rng.random() < self.spec.large_share else self.spec.small_body
        return rng.randint(low, high)

    def _perform(self, client: Any, op: Operation, rng: random.Random) -> None:
        if op.kind == PUT:
            op.value = self._token()
            body = make_body(op.value, self._body_size(rng))
            answer = client.put_object(
                Bucket=op.bucket, Key=op.key, Body=body, Metadata={TOKEN_HEADER: op.value}
            )
            self._acknowledge_write(op, answer, len(body))
        elif op.kind == MULTIPART:
            op.value = self._token()
            self._multipart(client, op, make_body(op.value, self._body_size(rng)))
        elif op.kind == DELETE:
            answer = client.delete_object(Bucket=op.bucket, Key=op.key)
            op.outcome = OK
            op.version_id = answer.get("VersionId")
            op.delete_marker = bool(answer.get("DeleteMarker"))
        elif op.kind == GET:
            self._read(client, op, {})
        elif op.kind == GET_VERSION:
            with self._lock:
                known = [version for key, version in self._versions if key == op.key]
            if not known:
                op.kind = GET
                self._read(client, op, {})
                return
            op.version_id = rng.choice(known)
            self._read(client, op, {"VersionId": op.version_id})
        else:
            raise ValueError(f"unknown operation {op.kind}")

    def _acknowledge_write(self, op: Operation, answer: dict[str, Any], size: int) -> None:
        op.outcome = OK
        op.etag = answer.get("ETag")
        op.size = size
        op.version_id = answer.get("VersionId")
        if op.bucket == self.spec.versioned_bucket and op.version_id:
            with self._lock:
                self._versions.append((op.key, op.version_id))

    def _multipart(self, client: Any, op: Operation, body: bytes) -> None:
        upload_id = client.create_multipart_upload(
            Bucket=op.bucket, Key=op.key, Metadata={TOKEN_HEADER: op.value or ""}
        )["UploadId"]
        try:
            part = client.upload_part(
                Bucket=op.bucket, Key=op.key, UploadId=upload_id, PartNumber=1, Body=body
            )
        except (ClientError, BotoCoreError) as error:
            # Nothing is visible before the completion: the write did not take effect (whatever the status).
            self._abort_quietly(client, op, upload_id)
            if isinstance(error, ClientError):
                self._record_client_error(op, error)
            op.error = f"UploadPart: {op.error or type(error).__name__}"
            op.outcome = FAIL
            return
        answer = client.complete_multipart_upload(
            Bucket=op.bucket,
            Key=op.key,
            UploadId=upload_id,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]},
        )
        self._acknowledge_write(op, answer, len(body))

    @staticmethod
    def _abort_quietly(client: Any, op: Operation, upload_id: str) -> None:
        try:
            client.abort_multipart_upload(Bucket=op.bucket, Key=op.key, UploadId=upload_id)
        except (ClientError, BotoCoreError):
            pass  # a leftover upload is aborted after the run (see abort_leftover_uploads)

    @staticmethod
    def _read(client: Any, op: Operation, extra: dict[str, str]) -> None:
        try:
            answer = client.get_object(Bucket=op.bucket, Key=op.key, **extra)
            body = answer["Body"].read()
        except ClientError as error:
            if error.response["Error"]["Code"] in ("NoSuchKey", "NoSuchVersion"):
                op.outcome = OK
                op.value = None
                op.delete_marker = (
                    error.response["ResponseMetadata"]["HTTPHeaders"].get("x-amz-delete-marker") == "true"
                )
                return
            raise
        op.outcome = OK
        op.value = token_of(body)
        written = answer.get("Metadata", {}).get(TOKEN_HEADER)
        if written != op.value and not op.value.startswith(CORRUPT_PREFIX):
            op.value = f"{CORRUPT_PREFIX}metadata token {written!r} on body of {op.value}"
        op.etag = answer.get("ETag")
        op.size = len(body)
        op.version_id = answer.get("VersionId") or op.version_id

    @staticmethod
    def _record_client_error(op: Operation, error: ClientError) -> None:
        status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        op.status = status
        op.error = error.response.get("Error", {}).get("Code") or str(status)
        if 400 <= status < 500:
            op.outcome = FAIL  # refused: a 4xx write did not take effect
        else:
            op.outcome = UNKNOWN if op.kind in WRITES else FAIL

    # ---- after the run -------------------------------------------------------------------------------------

    def read_final_state(self, history: History, timeout_s: float = 90.0) -> FinalState:
        """Quiescent reads of every key, both listings and every listed version, retried until they answer."""
        client = s3_client(self.gateway_urls[-1], self.spec.request_timeout_s)
        final = FinalState()
        deadline = time.monotonic() + timeout_s
        for bucket in self.buckets:
            for key in self.keys:
                item, error = _retry(partial(self._final_read, client, bucket, key), deadline)
                if item is None:
                    final.errors.append(f"GET {bucket}/{key}: {error}")
                else:
                    final.objects.append(item)
            listing, error = _retry(partial(_list_objects, client, bucket), deadline)
            if listing is None:
                final.errors.append(f"ListObjectsV2 {bucket}: {error}")
            else:
                final.listings[bucket] = listing
        bucket = self.spec.versioned_bucket
        versions, error = _retry(partial(_list_versions, client, bucket), deadline)
        if versions is None:
            final.errors.append(f"ListObjectVersions {bucket}: {error}")
        else:
            for version in versions:
                if not version.delete_marker:
                    done, error = _retry(partial(self._final_version, client, bucket, version), deadline)
                    if done is None:
                        final.errors.append(
                            f"GET {bucket}/{version.key}?versionId={version.version_id}: {error}"
                        )
            final.versions[bucket] = versions
        history.final = final
        return final

    def _final_read(self, client: Any, bucket: str, key: str) -> FinalObject:
        op = Operation(0, -1, len(self.gateway_urls) - 1, GET, bucket, key, time.monotonic())
        self._read(client, op, {})
        return FinalObject(bucket, key, op.value, op.etag, op.size, op.version_id)

    def _final_version(self, client: Any, bucket: str, version: ListedVersion) -> bool:
        op = Operation(0, -1, len(self.gateway_urls) - 1, GET_VERSION, bucket, version.key, time.monotonic())
        self._read(client, op, {"VersionId": version.version_id})
        version.value = op.value
        return True

    def abort_leftover_uploads(self) -> int:
        """Aborts the multipart uploads a failed operation left open (their parts hold blobs); returns how many."""
        client = s3_client(self.gateway_urls[0], self.spec.request_timeout_s)
        aborted = 0
        for bucket in self.buckets:
            for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=bucket):
                for upload in page.get("Uploads", []):
                    client.abort_multipart_upload(
                        Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
                    )
                    aborted += 1
        return aborted


def _retry(call: Callable[[], _T], deadline: float) -> tuple[_T | None, str | None]:
    """(``call()``'s answer, None), retried on 5xx and connection errors until ``deadline``; else (None, error)."""
    delay = 0.2
    while True:
        try:
            return call(), None
        except ClientError as error:
            status = int(error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
            last = f"{error.response.get('Error', {}).get('Code')} ({status})"
            if status < 500:
                return None, last
        except BotoCoreError as error:
            last = type(error).__name__
        if time.monotonic() + delay > deadline:
            return None, last
        time.sleep(delay)
        delay = min(2.0, delay * 2)


def _list_objects(client: Any, bucket: str) -> dict[str, tuple[str, int]]:
    listed: dict[str, tuple[str, int]] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            listed[item["Key"]] = (item["ETag"], int(item["Size"]))
    return listed


def _list_versions(client: Any, bucket: str) -> list[ListedVersion]:
    listed: list[ListedVersion] = []
    for page in client.get_paginator("list_object_versions").paginate(Bucket=bucket):
        for item in page.get("Versions", []):
            listed.append(
                ListedVersion(
                    item["Key"],
                    item["VersionId"],
                    bool(item["IsLatest"]),
                    False,
                    item["ETag"],
                    int(item["Size"]),
                )
            )
        for item in page.get("DeleteMarkers", []):
            listed.append(ListedVersion(item["Key"], item["VersionId"], bool(item["IsLatest"]), True))
    return listed
