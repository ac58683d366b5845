"""Per-request context and the services every handler reaches through it."""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from gateway.crypto.kms import KMS
from gateway.ports import DatanodeMembership, DataPort, MetadataPort, ShardMap
from gateway.s3.auth import Authenticator, AuthResult, Principal
from gateway.s3.router import Endpoint
from metanode.lifecycle.rules import DAY_MS

INLINE_THRESHOLD = 64 * 1024
DEFAULT_INTENT_TTL_MS = 3600 * 1000


@dataclass(frozen=True)
class GatewayServices:
    """What the gateway needs from the rest of the system, wired by the composition root."""

    metadata: MetadataPort
    data: DataPort
    authenticator: Authenticator
    # restEndpoints: S3 host name -> default location constraint.
    rest_endpoints: Callable[[], Mapping[str, str]]
    # locationConfig: location name -> {"type", "legacyAwsBehavior", "details"}.
    locations: Callable[[], Mapping[str, Mapping[str, Any]]]
    default_location: str = "us-east-1"
    inline_threshold: int = INLINE_THRESHOLD
    intent_ttl_ms: int = DEFAULT_INTENT_TTL_MS
    max_put_size: int = 5 * 1024**3
    # Cluster mode: every datanode that belongs to the cluster, live or not (gateway.health).
    datanodes: DatanodeMembership | None = None
    # Cluster mode: the metadata shards' leaders and in-sync replicas (gateway.health).
    shards: ShardMap | None = None
    # websiteEndpoints: host names whose <bucket>.<name> requests are static websites (gateway.website).
    website_endpoints: Callable[[], Collection[str]] = lambda: ()
    # -- lifecycle: the length of a lifecycle "day" (x-amz-expiration), as the metanodes count it.
    lifecycle_day_ms: int = DAY_MS
    # The key manager of server-side encryption (gateway.crypto.sse); None: encryption unavailable.
    kms: KMS | None = None


@dataclass
class RequestContext:
    """Built once per request, after routing and authentication."""

    request: web.Request
    request_id: str
    endpoint: Endpoint
    auth: AuthResult
    services: GatewayServices
    started: float = field(default_factory=time.monotonic)
    # The bucket policy's answers already given to this request (gateway.authz.enforce): a request
    # asked twice (before and after its object is read) is evaluated once.
    policy_effects: dict[tuple[object, ...], Any] = field(default_factory=dict)
    bucket_facts: dict[str, Any] = field(default_factory=dict)  # per bucket name, read once

    @property
    def principal(self) -> Principal:
        return self.auth.principal

    @property
    def bucket(self) -> str:
        assert self.endpoint.bucket is not None
        return self.endpoint.bucket

    @property
    def key(self) -> str:
        assert self.endpoint.key is not None
        return self.endpoint.key

    @property
    def query(self) -> Mapping[str, str]:
        return self.request.query

    @property
    def headers(self) -> Mapping[str, str]:
        return self.request.headers

    def host_location(self) -> str:
        """The default location of the endpoint this request was addressed to."""
        host = (self.request.host or "").rsplit(":", 1)[0].lower()
        endpoints = self.services.rest_endpoints()
        if host in endpoints:
            return endpoints[host]
        for name, location in endpoints.items():
            if host.endswith("." + name):
                return location
        return self.services.default_location
