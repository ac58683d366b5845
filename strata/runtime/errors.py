"""The one exception type a process raises when it cannot start.

``strata``'s ``main`` catches it once, prints ``strata: <message>`` on one line of
stderr and exits with status 2. Any package may raise it (or a subclass) from its
start-up path: a bad setting, an unusable directory, a port that cannot be bound.
"""

from __future__ import annotations

import errno
import socket

STARTUP_EXIT_CODE = 2


class StartupError(Exception):
    """The process cannot start; the message says why in one line and, where it can, how to fix it."""


def listen_error(host: str, port: int, error: OSError) -> StartupError:
    """A StartupError for a socket that could not be bound (port in use, unknown host, ...)."""
    if isinstance(error, socket.gaierror):
        return StartupError(f"cannot listen on {host}:{port}: the host name {host!r} does not resolve")
    if error.errno == errno.EADDRINUSE:
        reason = "the address is already in use (is another server running?)"
    elif error.errno == errno.EADDRNOTAVAIL:
        reason = "that address is not on this machine"
    elif error.errno == errno.EACCES:
        reason = "permission denied (ports below 1024 need privileges)"
    else:
        reason = error.strerror or str(error)
    return StartupError(f"cannot listen on {host}:{port}: {reason}")
