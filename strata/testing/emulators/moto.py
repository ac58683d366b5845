"""moto's S3 server as the ``aws_s3`` emulator ``aws_s3-moto``.

moto checks no signatures, so wrong credentials cannot be tested on it
(``checks_credentials = False``; the Strata peer checks them). It keeps its data in
memory; ``moto_process`` saves that state when the process stops and loads it when it
starts, so ``stop()`` is a real stopped process (connections are refused) and
``start()`` comes back on the same port with the same buckets, objects and version ids.
"""

from __future__ import annotations

import importlib.util
import sys

from strata.testing.emulators import EmulatorMissing
from strata.testing.emulators.s3_peer import S3PeerEmulator

INSTALL = "pip install 'moto[s3]' flask flask-cors  (in the dev extra: pip install -e '.[dev]')"


class MotoEmulator(S3PeerEmulator):
    checks_credentials = False
    access_key = "testing"
    secret_key = "testing"

    def command(self) -> list[str]:
        if any(importlib.util.find_spec(module) is None for module in ("moto", "flask", "flask_cors")):
            raise EmulatorMissing(INSTALL)
        return [
            sys.executable,
            "-m",
            "strata.testing.emulators.moto_process",
            "--port",
            str(self.port),
            "--state",
            str(self.workdir / "moto-state.pickle"),
        ]
