"""Website errors are HTML pages for people, not XML documents: the same facts, readable in a browser."""

from __future__ import annotations

from html import escape
from http import HTTPStatus

from gateway.s3 import errors


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _facts(error: errors.S3Error, request_id: str | None) -> list[str]:
    items = [f"<li>Code: {escape(error.code)}</li>", f"<li>Message: {escape(error.message)}</li>"]
    items.extend(f"<li>{escape(name)}: {escape(value)}</li>" for name, value in error.details.items())
    if request_id is not None:
        items.append(f"<li>RequestId: {escape(request_id)}</li>")
        items.append(f"<li>HostId: {escape(request_id)}</li>")
    return items


def error_page(error: errors.S3Error, request_id: str, document_error: errors.S3Error | None = None) -> bytes:
    """The HTML page of ``error``; ``document_error`` is why the bucket's error document was not served."""
    title = f"{error.status} {_reason(error.status)}"
    parts = [
        "<html>",
        f"<head><title>{escape(title)}</title></head>",
        "<body>",
        f"<h1>{escape(title)}</h1>",
        "<ul>",
        *_facts(error, request_id),
        "</ul>",
    ]
    if document_error is not None:
        parts.append("<h3>An Error Occurred While Attempting to Retrieve a Custom Error Document</h3>")
        parts.extend(["<ul>", *_facts(document_error, None), "</ul>"])
    parts.extend(["<hr/>", "</body>", "</html>", ""])
    return "\n".join(parts).encode("utf-8")
