"""The one interface a test suite uses to talk to a running Strata, whatever runs it.

``LocalCluster`` (processes), ``StrataServerProcess`` (the embedded server as a process),
``EmbeddedThread`` (in this process) and, in ``strata.testing.containers``, ``StrataContainer``
and ``StrataClusterContainers`` all offer it:

    with StrataServerProcess() as strata:
        s3 = strata.boto3_client()
        s3.create_bucket(Bucket="photos")

A suite written against :class:`RunningStrata` runs unchanged against any of them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Protocol, Self, runtime_checkable

# The pair ``strata server`` accepts when no account is configured (gateway/s3/default_authdata.json).
DEFAULT_ACCESS_KEY = "accessKey1"
DEFAULT_SECRET_KEY = "verySecretKey1"
DEFAULT_REGION = "us-east-1"


@dataclass(frozen=True)
class Credentials:
    access_key: str
    secret_key: str
    region: str = DEFAULT_REGION

    @classmethod
    def from_environment(cls, env: Mapping[str, str] = os.environ) -> Credentials:
        """The pair a server started with ``env`` accepts: ``SCALITY_ACCESS_KEY_ID``/``..._SECRET_...``
        when both are set (they replace every other account), else the default pair."""
        access_key, secret_key = env.get("SCALITY_ACCESS_KEY_ID"), env.get("SCALITY_SECRET_ACCESS_KEY")
        if access_key and secret_key:
            return cls(access_key, secret_key)
        return cls(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)

    @property
    def is_default(self) -> bool:
        return (self.access_key, self.secret_key) == (DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)

    def as_environment(self) -> dict[str, str]:
        """What to give a server process (or container) so that it accepts these credentials:
        nothing for the default pair (the server keeps its default accounts), else the SCALITY pair."""
        if self.is_default:
            return {}
        return {"SCALITY_ACCESS_KEY_ID": self.access_key, "SCALITY_SECRET_ACCESS_KEY": self.secret_key}


@runtime_checkable
class RunningStrata(Protocol):
    """A Strata that answers S3 at :attr:`endpoint_url` until :meth:`stop`."""

    @property
    def endpoint_url(self) -> str: ...

    @property
    def credentials(self) -> Credentials: ...

    def boto3_client(self, service: str = "s3", **kwargs: Any) -> Any: ...

    def stop(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None: ...


def boto3_client(endpoint_url: str, credentials: Credentials, service: str = "s3", **kwargs: Any) -> Any:
    """A boto3 client for ``endpoint_url``; ``kwargs`` go to ``boto3.client`` and win over the defaults.

    Path-style addressing, because the endpoint is an address and not a DNS name that
    resolves ``<bucket>.<host>``. A ``session`` keyword is used instead of a new one.
    """
    import boto3
    from botocore.config import Config

    session = kwargs.pop("session", None) or boto3.session.Session()
    options: dict[str, Any] = {
        "endpoint_url": endpoint_url,
        "aws_access_key_id": credentials.access_key,
        "aws_secret_access_key": credentials.secret_key,
        "region_name": credentials.region,
        "config": Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}),
    }
    if "config" in kwargs and kwargs["config"] is not None:
        kwargs["config"] = options["config"].merge(kwargs["config"])
    options.update(kwargs)
    return session.client(service, **options)


class RunningStrataBase:
    """``boto3_client`` and the context manager, for classes that define ``endpoint_url``,
    ``credentials``, ``start`` (returning self) and ``stop``."""

    @property
    def endpoint_url(self) -> str:
        raise NotImplementedError

    @property
    def credentials(self) -> Credentials:
        raise NotImplementedError

    def start(self) -> Self:
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def boto3_client(self, service: str = "s3", **kwargs: Any) -> Any:
        return boto3_client(self.endpoint_url, self.credentials, service, **kwargs)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.stop()
