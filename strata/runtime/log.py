"""Structured logging with the current request id on every line."""

from __future__ import annotations

import contextvars
import itertools
import json
import logging
import os
import sys
import time
import uuid

from strata.runtime.errors import StartupError

request_id_var: contextvars.ContextVar[str] = contextvars.ContextVar("strata_request_id", default="-")

TRACE = 5
logging.addLevelName(TRACE, "TRACE")


_REQUEST_ID_PREFIX = uuid.uuid4().hex[:6].upper()
_request_counter = itertools.count(int.from_bytes(os.urandom(4), "big"))


def new_request_id() -> str:
    """16 upper-case hex characters, like S3's x-amz-request-id: a per-process prefix and a counter."""
    return f"{_REQUEST_ID_PREFIX}{next(_request_counter) & 0xFF_FFFF_FFFF:010X}"


class _RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get()
        return True


class _JsonFormatter(logging.Formatter):
    def __init__(self, role: str) -> None:
        super().__init__()
        self.role = role

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "role": self.role,
            "pid": record.process,
            "req_id": getattr(record, "request_id", "-"),
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in getattr(record, "fields", {}).items():
            entry[key] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


class _TextFormatter(logging.Formatter):
    def __init__(self, role: str) -> None:
        super().__init__("%(asctime)s %(levelname)-5s " + role + " [%(request_id)s] %(name)s: %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = getattr(record, "fields", None)
        if fields:
            line += " " + " ".join(f"{key}={value}" for key, value in fields.items())
        return line


LEVELS = {
    "trace": TRACE,
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warn": logging.WARNING,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def level_from_env(default: str = "info") -> int:
    """``LOG_LEVEL`` (trace, debug, info, warn, error); a StartupError for any other value."""
    name = os.environ.get("LOG_LEVEL", default).strip().lower() or default
    if name not in LEVELS:
        raise StartupError(
            f"LOG_LEVEL={os.environ.get('LOG_LEVEL')} is not a log level; use one of trace, debug, info, warn, error"
        )
    return LEVELS[name]


def setup_logging(role: str, json_lines: bool | None = None, level: int | None = None) -> None:
    """Configures the root logger once per process.

    ``json_lines`` defaults to JSON when stderr is not a terminal.
    """
    level = level if level is not None else level_from_env()
    if json_lines is None:
        json_lines = not sys.stderr.isatty()
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_RequestIdFilter())
    handler.setFormatter(_JsonFormatter(role) if json_lines else _TextFormatter(role))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for noisy in ("aiohttp.access", "grpc", "asyncio"):
        logging.getLogger(noisy).setLevel(max(root.level, logging.WARNING))


def log_fields(**fields: object) -> dict[str, dict[str, object]]:
    """``logger.info("msg", extra=log_fields(bucket=b))`` adds structured fields."""
    return {"fields": fields}
