"""A pytest plugin that fails any test during which a Strata server answered 5xx or logged a traceback.

It watches two sources:

- log records of the processes' own loggers (servers run in the test process, e.g.
  ``EmbeddedThread``): the gateway's access line of every request, and any record with
  an exception at error level (the gateway's ``unhandled error``, aiohttp's own
  ``Error handling request``);
- the log files of real server processes registered with :func:`watch_log_file`
  (``LocalCluster`` registers every process it starts): JSON lines with a ``status`` of
  500 or more, an ``exception``, or a ``Traceback``.

501 NotImplemented is an answer, not a failure. A test that provokes server errors on
purpose says which: ``@pytest.mark.allow_server_errors(503)`` (statuses), or
``@pytest.mark.allow_server_errors(503, tracebacks=True)``.

Enable it with ``pytest_plugins = ["strata.testing.pytest_plugin"]`` in a top-level conftest.

It also gives two session-scoped fixtures, each a ``strata.testing.running.RunningStrata``
(``endpoint_url``, ``credentials``, ``boto3_client()``):

- ``strata_server``: the embedded all-in-one server (``strata server`` as a process);
- ``strata_cluster``: a multi-process cluster (``LocalCluster``: etcd, a metanode, a datanode, a
  coordinator and a gateway, each its own process).

``--strata-target=containers`` (or ``STRATA_TEST_TARGET=containers``) runs them in Docker
instead (``StrataContainer``, ``StrataClusterContainers``); the default is ``process``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ACCESS_LOGGER = "gateway"  # gateway.app logs one line per request, with a ``status`` field
ALWAYS_ALLOWED = frozenset({501})


@dataclass(frozen=True)
class Finding:
    source: str  # "in-process" or a log file path
    status: int | None  # the HTTP status of a request, or None for a traceback
    text: str  # the request line or the traceback's message

    def describe(self) -> str:
        what = f"HTTP {self.status}" if self.status is not None else "traceback"
        return f"{what} [{self.source}]: {self.text}"


class _Watch(logging.Handler):
    """Collects findings from in-process log records and from watched log files."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.findings: list[Finding] = []
        self._files: dict[Path, int] = {}
        self._lock_findings = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if _is_closed_loop_completion(record):
            return
        fields = getattr(record, "fields", None) or {}
        status = fields.get("status") if record.name == ACCESS_LOGGER else None
        finding: Finding | None = None
        if isinstance(status, int) and status >= 500:
            finding = Finding("in-process", status, _message(record))
        elif record.exc_info and record.levelno >= logging.ERROR:
            kind = record.exc_info[0].__name__ if record.exc_info[0] else "exception"
            finding = Finding("in-process", None, f"{record.name}: {_message(record)} ({kind})")
        if finding is not None:
            with self._lock_findings:
                self.findings.append(finding)

    def watch(self, path: Path) -> None:
        self._files.setdefault(path, path.stat().st_size if path.exists() else 0)

    def scan_files(self) -> None:
        for path, offset in list(self._files.items()):
            try:
                with open(path, "rb") as log_file:
                    log_file.seek(offset)
                    chunk = log_file.read()
            except OSError:
                continue
            complete, _, _ = chunk.rpartition(b"\n")
            self._files[path] = offset + len(complete) + (1 if complete or chunk.startswith(b"\n") else 0)
            for raw_line in complete.decode("utf-8", "replace").splitlines():
                finding = _finding_in_line(str(path), raw_line)
                if finding is not None:
                    with self._lock_findings:
                        self.findings.append(finding)


def _is_closed_loop_completion(record: logging.LogRecord) -> bool:
    """grpc's poller thread handing a completion to the event loop of a test that already ended.

    grpc.aio delivers the completions of calls cancelled by ``Channel.close()`` from its own
    thread, to the loop each call started on; pytest closes every test's loop right after
    its teardown, so a late completion for the previous test is logged by asyncio (as
    ``Exception in callback PollerCompletionQueue._handle_events``, RuntimeError
    ``Event loop is closed``) during the next one. No server is involved: a server's loop
    lives as long as the server.
    """
    if record.name != "asyncio" or not record.exc_info:
        return False
    error = record.exc_info[1]
    return (
        isinstance(error, RuntimeError)
        and str(error) == "Event loop is closed"
        and "PollerCompletionQueue._handle_events" in _message(record)
    )


def _message(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except Exception:  # a malformed record must not break the run
        return str(record.msg)


def _finding_in_line(source: str, line: str) -> Finding | None:
    try:
        entry = json.loads(line)
    except ValueError:
        entry = None
    if isinstance(entry, dict):
        status = entry.get("status")
        if isinstance(status, int) and status >= 500:
            return Finding(source, status, f"{entry.get('message', '')} (req_id {entry.get('req_id', '-')})")
        if entry.get("exception"):
            last = str(entry["exception"]).strip().splitlines()[-1:]
            return Finding(source, None, f"{entry.get('message', '')}: {' '.join(last)}")
        return None
    if line.startswith("Traceback (most recent call last)"):
        return Finding(source, None, line)
    return None


_watch = _Watch()


def watch_log_file(path: str | os.PathLike[str]) -> None:
    """Checks the server log at ``path`` too (from its current end) while the plugin is active."""
    _watch.watch(Path(path))


def scan_watched_logs() -> None:
    """Reads what the watched logs gained so far (e.g. before a server removes its own log)."""
    _watch.scan_files()


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_server_errors(*statuses, tracebacks=False): the test provokes these 5xx answers "
        "(and tracebacks, if said) on purpose",
    )
    strata_target(config)  # a wrong choice stops the run at once, not at the first fixture
    logging.getLogger().addHandler(_watch)
    access = logging.getLogger(ACCESS_LOGGER)
    if access.getEffectiveLevel() > logging.INFO:
        access.setLevel(logging.INFO)


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(_watch)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Generator[None, None, None]:
    _watch.scan_files()  # what happened before this test is not its doing
    item.stash[_START] = len(_watch.findings)
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, None]:
    outcome = yield
    if call.when != "teardown":
        return
    report: pytest.TestReport = outcome.get_result()
    _watch.scan_files()
    start = item.stash.get(_START, len(_watch.findings))
    found = _watch.findings[start:]
    marker = item.get_closest_marker("allow_server_errors")
    allowed_statuses = ALWAYS_ALLOWED | set(marker.args if marker else ())
    allow_tracebacks = bool(marker.kwargs.get("tracebacks", False)) if marker else False
    unexpected = [
        finding
        for finding in found
        if (finding.status is None and not allow_tracebacks)
        or (finding.status is not None and finding.status not in allowed_statuses)
    ]
    if unexpected and report.outcome != "failed":
        lines = "\n".join(f"  {finding.describe()}" for finding in unexpected[:20])
        more = f"\n  ... and {len(unexpected) - 20} more" if len(unexpected) > 20 else ""
        report.outcome = "failed"
        report.longrepr = f"a server answered 5xx or logged a traceback during this test:\n{lines}{more}"


_START = pytest.StashKey[int]()


# --- Fixtures: a running Strata for a test suite -------------------------------------------------

TARGET_ENV = "STRATA_TEST_TARGET"
TARGETS = ("process", "containers")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--strata-target",
        choices=TARGETS,
        default=None,
        help=f"what the strata_server/strata_cluster fixtures start: process (default) or containers "
        f"(Docker; the environment variable {TARGET_ENV} says the same)",
    )


def strata_target(config: pytest.Config) -> str:
    """``process`` or ``containers``: the option, else the environment variable, else ``process``."""
    chosen = config.getoption("--strata-target", default=None) or os.environ.get(TARGET_ENV) or "process"
    if chosen not in TARGETS:
        raise pytest.UsageError(f"{TARGET_ENV} must be one of {', '.join(TARGETS)}, not {chosen!r}")
    return str(chosen)


def _require_docker() -> None:
    """Skips when Docker cannot start here (and says why); under ``CI=true`` that is a failure."""
    from strata.testing.containers import docker_unavailable_reason
    from strata.testing.docker import in_ci

    reason = docker_unavailable_reason()
    if reason is None:
        return
    if in_ci():
        pytest.fail(f"Docker must work in CI: {reason}")
    pytest.skip(f"Docker cannot start here: {reason}")


@pytest.fixture(scope="session")
def strata_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Generator[Any, None, None]:
    """The embedded all-in-one Strata server, for the whole session."""
    if strata_target(request.config) == "containers":
        _require_docker()
        from strata.testing.containers import StrataContainer

        with StrataContainer() as container:
            yield container
        return
    from strata.testing.server_process import StrataServerProcess

    with StrataServerProcess(tmp_path_factory.mktemp("strata-server")) as server:
        yield server


@pytest.fixture(scope="session")
def strata_cluster(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Generator[Any, None, None]:
    """A multi-process Strata cluster (etcd, a metanode, a datanode, a coordinator, a gateway),
    for the whole session."""
    if strata_target(request.config) == "containers":
        _require_docker()
        from strata.testing.containers import StrataClusterContainers

        with StrataClusterContainers() as containers:
            yield containers
        return
    from strata.localcluster import ClusterSpec
    from strata.testing.cluster import LocalCluster

    # The topology StrataClusterContainers has, so both targets behave alike and start quickly.
    spec = ClusterSpec(gateway_base_port=None, replicas=1, datanodes=1, gateways=1)
    with LocalCluster(tmp_path_factory.mktemp("strata-cluster"), spec) as cluster:
        yield cluster
