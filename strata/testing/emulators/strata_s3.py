"""Another Strata server as an S3-compatible peer: the ``aws_s3`` emulator ``aws_s3-strata``.

``strata server --backend file`` runs as a subprocess on a free port with its data in a
temporary directory, so it keeps its data across ``stop()``/``start()``. It checks
signatures (``checks_credentials = True``) with its default accounts.
"""

from __future__ import annotations

import sys

from strata.testing.emulators.s3_peer import S3PeerEmulator


class StrataS3Emulator(S3PeerEmulator):
    def command(self) -> list[str]:
        return [
            sys.executable,
            "-c",
            "from strata.cli import main; raise SystemExit(main())",
            "server",
            "--backend",
            "file",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
        ]

    def process_env(self) -> dict[str, str]:
        env = super().process_env()
        env.update(
            S3DATAPATH=str(self.workdir / "localData"),
            S3METADATAPATH=str(self.workdir / "localMetadata"),
        )
        return env
