"""A deliberately slow HTTP client: sends a request body in small pieces with pauses between them."""

from __future__ import annotations

import http.client
import threading
import time
import urllib.parse
from dataclasses import dataclass


@dataclass
class Reply:
    status: int
    body: bytes


def trickle(
    url: str,
    body: bytes,
    *,
    duration_s: float,
    pieces: int = 20,
    method: str = "PUT",
    abandon_after: int | None = None,
    progress: tuple[int, threading.Event] | None = None,
) -> Reply | None:
    """Sends ``body`` to a (presigned) ``url`` over about ``duration_s`` seconds.

    With ``abandon_after``, the connection is dropped after that many pieces (the writer dies)
    and None is returned. With ``progress=(n, event)``, ``event`` is set once n pieces are sent.
    A connection the server drops before answering also returns None.
    """
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    connection.putrequest(method, target, skip_accept_encoding=True)
    connection.putheader("Content-Length", str(len(body)))
    connection.endheaders()
    step = -(-len(body) // pieces)
    pause = duration_s / pieces
    try:
        for index, start in enumerate(range(0, len(body), step)):
            if abandon_after is not None and index == abandon_after:
                return None
            try:
                connection.send(body[start : start + step])
            except (BrokenPipeError, ConnectionResetError):
                break  # the server answered early; its reply says why
            if progress is not None and index + 1 == progress[0]:
                progress[1].set()
            time.sleep(pause)
        response = connection.getresponse()
        return Reply(response.status, response.read())
    except http.client.RemoteDisconnected:
        return None
    finally:
        connection.close()
