"""Backblaze B2's native HTTP API on 127.0.0.1, served from b2sdk's in-memory ``RawSimulator``.

No B2 emulator exists, but b2sdk ships ``RawSimulator``: the service's state machine (accounts,
keys, buckets, file versions, large files and their parts, sha1 checks) without HTTP. This module
puts an aiohttp server in front of it, in a thread of the test process, speaking the wire calls the
``b2`` backend makes (``/b2api/v<N>/b2_*`` JSON calls, upload URLs, downloads by id and by name,
B2's ``{"status", "code", "message"}`` errors). So the backend's real HTTP path runs: URLs, headers,
percent-encoded names, ``X-Bz-Content-Sha1: hex_digits_at_end`` bodies, ranges, error codes.

``read_direct``/``names_direct`` go through b2sdk's own HTTP client (``B2Api`` with its real
``B2RawHTTPApi``) pointed at this server, which also cross-checks the server against what b2sdk
expects from B2.

The simulator object lives in this process; ``stop()`` closes only the HTTP listener, so data
survives a stop/start. ``fail_next(status, code, count)`` makes the next API calls answer an error
(throttling, 5xx) and ``expire_tokens()`` expires every account token, for error-path tests.
"""

from __future__ import annotations

import asyncio
import base64
import io
import json
import secrets
import socket
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import quote, unquote

from aiohttp import ClientPayloadError, web
from aiohttp.http_exceptions import BadHttpMessage

from strata.testing.emulators import EmulatorMissing

MIB = 1024 * 1024

try:
    from b2sdk import v2 as b2
    from b2sdk._internal.exception import (
        B2Error,
        FileNotPresent,
        FileOrBucketNotFound,
        InvalidAuthToken,
        NonExistentBucket,
    )
except ImportError as missing:  # pragma: no cover - only when the dev extra is not installed
    raise EmulatorMissing("pip install b2sdk (it is in the dev extra: pip install -e '.[dev]')") from missing


class _BucketSimulator(b2.BucketSimulator):  # type: ignore[misc]
    def _simulate_chunked_post(self, stream: Any, content_length: int, *_: Any, **__: Any) -> bytes:
        # The stock method re-reads every body twice in 8 KiB reads to mimic b2sdk's own retries,
        # which caps uploads near 70 MB/s; bodies here arrive whole over HTTP.
        stream.seek(0)
        data: bytes = stream.read()
        return data


class RawSimulator(b2.RawSimulator):  # type: ignore[misc]
    BUCKET_SIMULATOR_CLASS = _BucketSimulator


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _error(status: int, code: str, message: str) -> web.Response:
    body = json.dumps({"status": status, "code": code, "message": message})
    return web.Response(status=status, text=body, content_type="application/json")


def _jsonable(value: Any) -> Any:
    if isinstance(value, set | frozenset):
        return sorted(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _json(value: Any) -> web.Response:
    return web.Response(text=json.dumps(value, default=_jsonable), content_type="application/json")


def _b2_error_response(error: Exception) -> web.Response:
    """B2's status and code for the simulator's exceptions (the ones b2sdk's client maps back)."""
    if isinstance(error, InvalidAuthToken):
        code = "expired_auth_token" if "expired" in str(error.code) else "bad_auth_token"
        if error.code == "unauthorized":
            code = "unauthorized"
        return _error(401, code, str(error))
    if isinstance(error, FileNotPresent | KeyError):
        return _error(404, "not_found", "file not present")
    if isinstance(error, NonExistentBucket):
        return _error(400, "bad_bucket_id", "bucket does not exist")
    if isinstance(error, B2Error):
        status = getattr(error, "status", None) or 400
        code = getattr(error, "code", None) or "bad_request"
        if status == 401 or code == "unauthorized":
            return _error(401, "unauthorized", str(error))
        return _error(400, str(code) if status == 400 else "bad_request", str(error))
    if isinstance(error, ValueError | TypeError):
        return _error(400, "bad_request", str(error))
    raise error


@web.middleware
async def _client_gone(request: web.Request, handler: Any) -> web.StreamResponse:
    """A client that hung up (a timed-out caller, a cut upload) is not a server failure."""
    try:
        response: web.StreamResponse = await handler(request)
        return response
    except (ConnectionError, ClientPayloadError):
        return _error(400, "bad_request", "client went away")


class _B2Server:
    """The HTTP face of one RawSimulator; every simulator call happens under one lock."""

    def __init__(self, simulator: Any, lock: threading.Lock, base_url: str) -> None:
        self.simulator = simulator
        self.lock = lock
        self.base_url = base_url
        self.upload_slots: dict[str, tuple[str, str]] = {}  # slot -> (kind, simulator upload url)
        self.failures: list[tuple[int, str]] = []
        self.stalls: list[float] = []

    def app(self) -> web.Application:
        app = web.Application(client_max_size=64 * MIB, middlewares=[_client_gone])
        app.router.add_route("*", "/b2api/{version}/b2_download_file_by_id", self.download_by_id)
        app.router.add_route("*", "/b2api/{version}/{call}", self.api_call)
        app.router.add_post("/b2_upload/{slot}", self.upload)
        app.router.add_get("/file/{bucket}/{name:.+}", self.download_by_name)
        return app

    # -- helpers -----------------------------------------------------------------------

    def _account_token(self, request: web.Request) -> str | web.Response:
        token = request.headers.get("Authorization", "")
        if token in self.simulator.expired_auth_tokens:
            return _error(401, "expired_auth_token", "authorization token has expired")
        if token not in self.simulator.auth_token_to_key:
            return _error(401, "bad_auth_token", "invalid authorization token")
        return token

    async def _injected_failure(self) -> web.Response | None:
        if self.stalls:
            await asyncio.sleep(self.stalls.pop(0))
        if not self.failures:
            return None
        status, code = self.failures.pop(0)
        return _error(status, code, "injected failure")

    async def _params(self, request: web.Request) -> dict[str, Any]:
        if request.method == "GET":
            return dict(request.query)
        raw = await request.read()
        params: dict[str, Any] = json.loads(raw) if raw else {}
        return params

    def _call(self, function: Callable[[], Any]) -> web.Response:
        with self.lock:
            try:
                return _json(function())
            except Exception as error:  # the simulator's exceptions become B2's error answers
                return _b2_error_response(error)

    # -- JSON API ----------------------------------------------------------------------

    async def api_call(self, request: web.Request) -> web.Response:
        call = request.match_info["call"]
        failure = await self._injected_failure()
        if failure is not None:
            return failure
        if call == "b2_authorize_account":
            return self._authorize(request)
        token = self._account_token(request)
        if isinstance(token, web.Response):
            return token
        try:
            params = await self._params(request)
        except ValueError:
            return _error(400, "bad_json", "body is not JSON")
        api = self.simulator.API_URL
        sim = self.simulator
        calls: dict[str, Callable[[], Any]] = {
            "b2_list_buckets": lambda: sim.list_buckets(
                api, token, params.get("accountId"), params.get("bucketId"), params.get("bucketName")
            ),
            "b2_get_upload_url": lambda: self._slot(
                "file", sim.get_upload_url(api, token, params["bucketId"])
            ),
            "b2_get_upload_part_url": lambda: self._slot(
                "part", sim.get_upload_part_url(api, token, params["fileId"])
            ),
            "b2_get_file_info": lambda: sim.get_file_info_by_id(api, token, params["fileId"]),
            "b2_delete_file_version": lambda: sim.delete_file_version(
                api, token, params["fileId"], params["fileName"]
            ),
            "b2_start_large_file": lambda: sim.start_large_file(
                api,
                token,
                params["bucketId"],
                params["fileName"],
                params.get("contentType", "b2/x-auto"),
                params.get("fileInfo") or {},
            ),
            "b2_finish_large_file": lambda: sim.finish_large_file(
                api, token, params["fileId"], params["partSha1Array"]
            ),
            "b2_cancel_large_file": lambda: sim.cancel_large_file(api, token, params["fileId"]),
            "b2_list_parts": lambda: sim.list_parts(
                api, token, params["fileId"], params.get("startPartNumber"), params.get("maxPartCount")
            ),
            "b2_list_file_names": lambda: sim.list_file_names(
                api,
                token,
                params["bucketId"],
                params.get("startFileName"),
                params.get("maxFileCount"),
                params.get("prefix"),
            ),
            "b2_list_file_versions": lambda: sim.list_file_versions(
                api,
                token,
                params["bucketId"],
                params.get("startFileName"),
                params.get("startFileId"),
                params.get("maxFileCount"),
                params.get("prefix"),
            ),
            "b2_list_unfinished_large_files": lambda: sim.list_unfinished_large_files(
                api,
                token,
                params["bucketId"],
                params.get("startFileId"),
                params.get("maxFileCount"),
                params.get("namePrefix"),
            ),
            "b2_copy_part": lambda: sim.copy_part(
                api,
                token,
                params["sourceFileId"],
                params["largeFileId"],
                params["partNumber"],
                _range_of(params.get("range")),
            ),
        }
        handler = calls.get(call)
        if handler is None:
            return _error(400, "bad_request", f"{call} is not served by this simulator")
        try:
            return self._call(handler)
        except KeyError as missing_field:
            return _error(400, "bad_request", f"missing parameter {missing_field}")

    def _authorize(self, request: web.Request) -> web.Response:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return _error(401, "bad_auth_token", "basic authorization required")
        try:
            key_id, _, key = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return _error(401, "bad_auth_token", "malformed basic authorization")

        def authorize() -> Any:
            answer = self.simulator.authorize_account(self.base_url, key_id, key)
            storage = answer["apiInfo"]["storageApi"]
            storage["apiUrl"] = self.base_url
            storage["downloadUrl"] = self.base_url
            # B2's real sizes (the simulator's 200-byte parts would make b2sdk split everything).
            storage["recommendedPartSize"] = 100_000_000
            storage["absoluteMinimumPartSize"] = 5_000_000
            # b2sdk's v2 client reads these at the top level.
            answer.update(
                apiUrl=self.base_url,
                downloadUrl=self.base_url,
                recommendedPartSize=storage["recommendedPartSize"],
                absoluteMinimumPartSize=storage["absoluteMinimumPartSize"],
                allowed=storage["allowed"],
                s3ApiUrl=storage["s3ApiUrl"],
            )
            return answer

        return self._call(authorize)

    def _slot(self, kind: str, answer: dict[str, Any]) -> dict[str, Any]:
        slot = secrets.token_hex(8)
        self.upload_slots[slot] = (kind, answer["uploadUrl"])
        return {
            **answer,
            "uploadUrl": f"{self.base_url}/b2_upload/{slot}",
            "authorizationToken": f"up-{slot}",
        }

    # -- uploads -----------------------------------------------------------------------

    async def upload(self, request: web.Request) -> web.Response:
        slot = request.match_info["slot"]
        found = self.upload_slots.get(slot)
        if found is None or request.headers.get("Authorization") != f"up-{slot}":
            return _error(401, "bad_auth_token", "invalid upload authorization")
        failure = await self._injected_failure()
        if failure is not None:
            return failure
        kind, simulator_url = found
        if request.content_length is None:
            return _error(400, "bad_request", "Content-Length is required")
        body = bytearray()
        try:
            async for piece in request.content.iter_any():
                body += piece
        except (ConnectionError, ClientPayloadError, BadHttpMessage):
            # The uploader went away mid-body: like B2, store nothing.
            return _error(400, "bad_request", "body cut short")
        if len(body) != request.content_length:
            return _error(400, "bad_request", "body shorter than Content-Length")
        sha1 = request.headers.get("X-Bz-Content-Sha1", "")
        stream = io.BytesIO(bytes(body))
        sim = self.simulator
        if kind == "part":
            part_number = int(request.headers.get("X-Bz-Part-Number", "0"))
            if not 1 <= part_number <= 10000:
                return _error(400, "bad_request", "part number must be in range 1 - 10000")
            return self._call(
                lambda: sim.upload_part(simulator_url, simulator_url, part_number, len(body), sha1, stream)
            )
        file_info = {
            name[len("X-Bz-Info-") :]: unquote(value)
            for name, value in request.headers.items()
            if name.lower().startswith("x-bz-info-")
        }
        file_name = unquote(request.headers.get("X-Bz-File-Name", ""))
        if not file_name:
            return _error(400, "bad_request", "X-Bz-File-Name is required")
        content_type = request.headers.get("Content-Type", "b2/x-auto")
        return self._call(
            lambda: sim.upload_file(
                simulator_url, simulator_url, file_name, len(body), content_type, sha1, file_info, stream
            )
        )

    # -- downloads ---------------------------------------------------------------------

    async def download_by_id(self, request: web.Request) -> web.StreamResponse:
        failure = await self._injected_failure()
        if failure is not None:
            return failure
        token = self._account_token(request)
        if isinstance(token, web.Response):
            return token
        file_id = request.query.get("fileId", "")
        with self.lock:
            bucket_id = self.simulator.file_id_to_bucket_id.get(file_id)
            bucket = self.simulator.bucket_id_to_bucket.get(bucket_id) if bucket_id else None
            file_sim = bucket.file_id_to_file.get(file_id) if bucket is not None else None
        return await self._send_file(request, token, file_sim)

    async def download_by_name(self, request: web.Request) -> web.StreamResponse:
        token = self._account_token(request)
        if isinstance(token, web.Response):
            return token
        name = unquote(request.match_info["name"])
        with self.lock:
            bucket = self.simulator.bucket_name_to_bucket.get(request.match_info["bucket"])
            file_sim = None
            if bucket is not None:
                versions = sorted(
                    (file_id_key, candidate)
                    for (file_name, file_id_key), candidate in bucket.file_name_and_id_to_file.items()
                    if file_name == name
                )
                # Lower ids are newer (the simulator counts down); hidden or unfinished: not current.
                if versions and versions[0][1].action == "upload":
                    file_sim = versions[0][1]
        return await self._send_file(request, token, file_sim)

    async def _send_file(self, request: web.Request, token: str, file_sim: Any) -> web.StreamResponse:
        if file_sim is None or file_sim.action != "upload":
            return _error(404, "not_found", "file not present")
        data: bytes = file_sim.data_bytes
        try:
            wanted = _parse_range(request.headers.get("Range"), len(data))
        except _Unsatisfiable:
            return _error(416, "range_not_satisfiable", "range not satisfiable")
        with self.lock:
            headers = dict(file_sim.as_download_headers(token, wanted))
        headers.pop("content-length", None)
        status = 200
        body = data
        if wanted is not None:
            status = 206
            body = data[wanted[0] : wanted[1] + 1]
        response = web.StreamResponse(status=status, headers=headers)
        response.content_length = len(body)
        await response.prepare(request)
        if request.method != "HEAD":
            view = memoryview(body)
            for start in range(0, len(body), MIB):
                await response.write(view[start : start + MIB])
        await response.write_eof()
        return response


def _range_of(text: str | None) -> tuple[int, int] | None:
    if not text:
        return None
    first, _, last = text.removeprefix("bytes=").partition("-")
    return int(first), int(last)


class _Unsatisfiable(ValueError):
    pass


def _parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    if not header or not header.startswith("bytes="):
        return None
    first_text, _, last_text = header[len("bytes=") :].partition("-")
    if not first_text:  # a suffix range: the last N bytes
        count = int(last_text)
        if not size:
            raise _Unsatisfiable
        return max(size - count, 0), size - 1
    first = int(first_text)
    if first >= size:
        raise _Unsatisfiable
    last = min(int(last_text), size - 1) if last_text else size - 1
    return first, last


class B2SimulatorEmulator:
    location_type = "b2"
    checks_credentials = True

    def __init__(self) -> None:
        self.simulator = RawSimulator()
        self.account_id, self.application_key = self.simulator.create_account()
        self._lock = threading.Lock()
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._server = _B2Server(self.simulator, self._lock, self.base_url)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._bucket_counter = 0
        self._clients: dict[tuple[str, str], Any] = {}

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        async def serve() -> None:
            runner = web.AppRunner(self._server.app(), access_log=None)
            await runner.setup()
            await web.TCPSite(runner, "127.0.0.1", self.port, reuse_address=True).start()
            self._runner = runner

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(serve())
            except BaseException as error:  # reported to start()'s caller
                failure.append(error)
                ready.set()
                return
            ready.set()
            loop.run_forever()
            loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name=f"b2-simulator-{self.port}", daemon=True)
        self._thread.start()
        if not ready.wait(timeout=30):
            raise RuntimeError("the B2 simulator's HTTP server did not start")
        if failure:
            self._thread = None
            raise failure[0]

    def stop(self) -> None:
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        if runner is not None:
            asyncio.run_coroutine_threadsafe(runner.cleanup(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        self._loop = self._thread = self._runner = None

    def close(self) -> None:
        self.stop()
        with self._lock:  # a fresh service, so a later start() serves an empty account
            self.simulator = RawSimulator()
            self.account_id, self.application_key = self.simulator.create_account()
            self._server.simulator = self.simulator
            self._server.upload_slots.clear()
        self._clients.clear()

    # -- test hooks ------------------------------------------------------------------

    def fail_next(self, status: int, code: str, count: int = 1) -> None:
        """The next ``count`` API calls, uploads or downloads answer ``status``/``code``."""
        self._server.failures.extend([(status, code)] * count)

    def stall_next(self, seconds: float, count: int = 1) -> None:
        """The next ``count`` API calls, uploads or downloads wait ``seconds`` before answering."""
        self._server.stalls.extend([seconds] * count)

    def clear_faults(self) -> None:
        self._server.failures.clear()
        self._server.stalls.clear()

    def expire_tokens(self) -> None:
        """Every account authorization issued so far expires (the next call gets expired_auth_token)."""
        with self._lock:
            for token in list(self.simulator.auth_token_to_key):
                self.simulator.expire_auth_token(token)

    # -- locations -------------------------------------------------------------------

    def location(self, *, bucket_match: bool, versioned: bool = False) -> dict[str, Any]:
        with self._lock:
            self._bucket_counter += 1
            bucket_name = f"strata-b2-{self._bucket_counter}"
            auth = self.simulator.authorize_account(self.base_url, self.account_id, self.application_key)
            self.simulator.create_bucket(
                self.simulator.API_URL, auth["authorizationToken"], self.account_id, bucket_name, "allPrivate"
            )
        return {
            "type": "b2",
            "legacyAwsBehavior": False,
            "details": {
                "b2StorageEndpoint": self.base_url,
                "b2AccountId": self.account_id,
                "b2ApplicationKey": self.application_key,
                "b2BucketName": bucket_name,
                "bucketMatch": bucket_match,
            },
        }

    def with_bad_credentials(self, location: dict[str, Any]) -> dict[str, Any]:
        details = {**location["details"], "b2ApplicationKey": "not-the-key"}
        return {**location, "details": details}

    # -- direct reads, through b2sdk's own HTTP client -------------------------------

    def _bucket(self, location: dict[str, Any]) -> Any:
        details = location["details"]
        account = (details["b2AccountId"], details["b2ApplicationKey"])
        api = self._clients.get(account)
        if api is None:
            api = b2.B2Api(b2.InMemoryAccountInfo())
            api.authorize_account(details["b2StorageEndpoint"], *account)
            self._clients[account] = api
        return api.get_bucket_by_name(details["b2BucketName"])

    def read_direct(self, location: dict[str, Any], name: str) -> bytes | None:
        bucket = self._bucket(location)
        try:
            downloaded = bucket.download_file_by_name(name)
            sink = io.BytesIO()
            downloaded.save(sink)
        except FileOrBucketNotFound:
            return None
        return sink.getvalue()

    def file_direct(self, location: dict[str, Any], name: str) -> dict[str, Any] | None:
        """What b2sdk reports of the current version of ``name``: content type and headers, file info."""
        bucket = self._bucket(location)
        try:
            version = bucket.get_file_info_by_name(name)
        except FileOrBucketNotFound:
            return None
        return {
            "content_type": version.content_type,
            "cache_control": version.cache_control,
            "content_disposition": version.content_disposition,
            "content_encoding": version.content_encoding,
            "content_language": version.content_language,
            "info": dict(version.file_info),
        }

    def unfinished_direct(self, location: dict[str, Any]) -> list[str]:
        """The names of the location's unfinished large files (started, neither finished nor cancelled)."""
        bucket = self._bucket(location)
        return sorted(unfinished.file_name for unfinished in bucket.list_unfinished_large_files())

    def names_direct(self, location: dict[str, Any]) -> list[str]:
        bucket = self._bucket(location)
        return sorted(file_version.file_name for file_version, _ in bucket.ls(recursive=True))


def url_encoded_name(name: str) -> str:
    """How B2 spells a file name in a header or a download path."""
    return quote(name, safe="/")
