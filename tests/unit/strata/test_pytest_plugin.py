"""The test-suite plugin fails a test whose server answered 500 or logged a traceback, naming the request."""

from __future__ import annotations

import logging
import sys

import pytest

from strata.testing.pytest_plugin import _Watch

pytest_plugins = ["pytester"]

BROKEN_SERVER_TESTS = """
import boto3
import pytest
from botocore.config import Config

from gateway.api import HANDLERS
from strata.testing.embedded import EmbeddedThread


def client(url):
    return boto3.client(
        "s3", endpoint_url=url, aws_access_key_id="accessKey1", aws_secret_access_key="verySecretKey1",
        region_name="us-east-1", config=Config(retries={"max_attempts": 1}),
    )


def broken(ctx):
    raise RuntimeError("handler bug")


def provoke_500(monkeypatch):
    monkeypatch.setitem(HANDLERS, "ListBuckets", broken)
    with EmbeddedThread(backend="mem") as server:
        with pytest.raises(Exception):
            client(server.url).list_buckets()


def test_unexpected_500(monkeypatch):
    provoke_500(monkeypatch)


@pytest.mark.allow_server_errors(500, tracebacks=True)
def test_deliberate_500(monkeypatch):
    provoke_500(monkeypatch)


def test_healthy_requests():
    with EmbeddedThread(backend="mem") as server:
        client(server.url).list_buckets()
"""


def test_plugin_fails_only_the_test_with_an_unexpected_500(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_broken_server=BROKEN_SERVER_TESTS)
    result = pytester.runpytest_subprocess("-p", "strata.testing.pytest_plugin", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=3, errors=1)
    output = result.stdout.str()
    assert "ERROR at teardown of test_unexpected_500" in output
    assert "HTTP 500 [in-process]: GET / 500" in output
    assert "traceback [in-process]: gateway: unhandled error (RuntimeError)" in output
    assert "teardown of test_deliberate_500" not in output


def _asyncio_callback_error(callback: str, error: Exception) -> logging.LogRecord:
    try:
        raise error
    except Exception:
        exc_info = sys.exc_info()
    return logging.LogRecord(
        "asyncio", logging.ERROR, __file__, 1, "Exception in callback %s", (callback,), exc_info
    )


def test_grpc_completions_for_an_ended_tests_loop_are_not_findings_but_other_loop_errors_are() -> None:
    watch = _Watch()
    poller = "PollerCompletionQueue._handle_events(<_UnixSelectorEventLoop running=True>)()"
    watch.emit(_asyncio_callback_error(poller, RuntimeError("Event loop is closed")))
    assert watch.findings == []
    watch.emit(_asyncio_callback_error("Server._accept()", RuntimeError("Event loop is closed")))
    watch.emit(_asyncio_callback_error(poller, RuntimeError("something else")))
    assert [finding.text.split(" (")[-1] for finding in watch.findings] == ["RuntimeError)", "RuntimeError)"]
