"""moto's S3 server as a process whose data outlives a stop: ``python -m`` this module.

moto keeps everything in memory, so a plain ``moto_server`` forgets its buckets when it
stops. This entry point serves the same application; on SIGTERM it pickles moto's S3
state (moto's own objects pickle, their bodies included) to ``--state`` before exiting,
and loads that file on start. Requests are served one at a time (see ``_OneRequestAtATime``). A restarted server on the same port so answers with the
same buckets, objects, version ids and ETags, which the outage tests need.

    python -m strata.testing.emulators.moto_process --port 5000 --state /tmp/moto.pickle
"""

from __future__ import annotations

import argparse
import os
import pickle
import signal
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from types import FrameType
from typing import Any


def _restore(state: Path) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    if not state.exists():
        return
    with state.open("rb") as handle:
        saved = pickle.load(handle)
    account = s3_backends[DEFAULT_ACCOUNT_ID]
    for partition, backend in saved["backends"].items():
        dict.__setitem__(account, partition, backend)
    s3_backends.bucket_accounts.update(saved["bucket_accounts"])


def _save(state: Path) -> None:
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.s3.models import s3_backends

    account = s3_backends[DEFAULT_ACCOUNT_ID]
    saved = {"backends": dict(account.items()), "bucket_accounts": dict(s3_backends.bucket_accounts)}
    partial = state.with_suffix(".partial")
    with partial.open("wb") as handle:
        pickle.dump(saved, handle, protocol=pickle.HIGHEST_PROTOCOL)
    os.replace(partial, state)


class _OneRequestAtATime:
    """Runs the WSGI application for one request at a time.

    moto's S3 model is not thread-safe: two concurrent PutObjects to one key can close the
    replaced key's buffer while the other request still reads it (an HTTP 500). Connections
    stay concurrent; only the application calls queue.
    """

    def __init__(self, application: Callable[..., Iterable[bytes]]) -> None:
        self._application = application
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        with self._lock:
            return list(self._application(environ, start_response))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, required=True)
    args = parser.parse_args()
    os.environ.setdefault("MOTO_PORT", str(args.port))

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import run_simple

    _restore(args.state)

    def save_and_exit(signum: int, frame: FrameType | None) -> None:
        _save(args.state)
        sys.exit(0)

    signal.signal(signal.SIGTERM, save_and_exit)
    signal.signal(signal.SIGINT, save_and_exit)
    run_simple(
        args.host,
        args.port,
        _OneRequestAtATime(DomainDispatcherApplication(create_backend_app)),
        threaded=True,
        request_handler=MotoRequestHandler,
    )


if __name__ == "__main__":
    main()
