"""What the S3-speaking emulators share: a server process on a free port, and boto3 to look inside.

A subclass says how to start its server (``command``) and which credentials it takes;
this class starts and stops it by pid, creates fresh buckets for ``location`` and reads
what landed there with boto3, independently of Strata's own S3 client.
"""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

_bucket_numbers = itertools.count(1)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_aws_env() -> dict[str, str]:
    """This process's environment without the AWS settings a sandbox or a user may have set."""
    return {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}


class S3PeerEmulator:
    location_type = "aws_s3"
    checks_credentials = True
    access_key = "accessKey1"
    secret_key = "verySecretKey1"
    ready_timeout_s = 60.0

    def __init__(self) -> None:
        self.port = free_port()
        self.workdir = Path(tempfile.mkdtemp(prefix=f"strata-{type(self).__name__.lower()}-"))
        self._process: subprocess.Popen[bytes] | None = None
        self._clients: dict[tuple[str, str], Any] = {}

    # -- the server process --------------------------------------------------------------------

    def command(self) -> list[str]:
        raise NotImplementedError

    def process_env(self) -> dict[str, str]:
        return clean_aws_env()

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        if self._process is not None and self._process.poll() is None:
            return
        log = (self.workdir / "server.log").open("ab")
        self._process = subprocess.Popen(
            self.command(), cwd=self.workdir, env=self.process_env(), stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        deadline = time.monotonic() + self.ready_timeout_s
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = (self.workdir / "server.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{type(self).__name__} exited with {self._process.returncode}: {tail}")
            try:
                self.client().list_buckets()
                return
            except Exception:  # not answering yet
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(
            f"{type(self).__name__} did not answer on {self.endpoint} within {self.ready_timeout_s}s"
        )

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.workdir, ignore_errors=True)

    # -- locations -----------------------------------------------------------------------------

    def client(self, access_key: str | None = None, secret_key: str | None = None) -> Any:
        """A boto3 S3 client of this server (path-style, plain HTTP, its own clean configuration)."""
        import boto3
        from botocore.config import Config

        keys = (access_key or self.access_key, secret_key or self.secret_key)
        if keys not in self._clients:
            self._clients[keys] = boto3.session.Session(
                aws_access_key_id=keys[0], aws_secret_access_key=keys[1], region_name="us-east-1"
            ).client(
                "s3",
                endpoint_url=f"http://{self.endpoint}",
                config=Config(
                    s3={"addressing_style": "path"},
                    retries={"max_attempts": 1},
                    connect_timeout=5,
                    read_timeout=60,
                ),
            )
        return self._clients[keys]

    def new_bucket(self, *, versioned: bool = False) -> str:
        bucket = f"strata-{next(_bucket_numbers)}-{uuid.uuid4().hex[:8]}"
        client = self.client()
        client.create_bucket(Bucket=bucket)
        if versioned:
            client.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
        return bucket

    def location(self, *, bucket_match: bool, versioned: bool = False) -> dict[str, Any]:
        return {
            "type": "aws_s3",
            "legacyAwsBehavior": False,
            "details": {
                "awsEndpoint": self.endpoint,
                "bucketName": self.new_bucket(versioned=versioned),
                "bucketMatch": bucket_match,
                "https": False,
                "pathStyle": True,
                "supportsVersioning": versioned,
                "credentials": {"accessKey": self.access_key, "secretKey": self.secret_key},
            },
        }

    def with_bad_credentials(self, location: dict[str, Any]) -> dict[str, Any]:
        details = dict(location["details"])
        details["credentials"] = {"accessKey": "wrongAccessKey", "secretKey": "wrongSecretKey"}
        return {**location, "details": details}

    def read_direct(self, location: dict[str, Any], name: str) -> bytes | None:
        from botocore.exceptions import ClientError

        try:
            answer = self.client().get_object(Bucket=location["details"]["bucketName"], Key=name)
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return None
            raise
        body: bytes = answer["Body"].read()
        return body

    def names_direct(self, location: dict[str, Any]) -> list[str]:
        paginator = self.client().get_paginator("list_objects_v2")
        names = [
            entry["Key"]
            for page in paginator.paginate(Bucket=location["details"]["bucketName"])
            for entry in page.get("Contents", [])
        ]
        return sorted(names)
