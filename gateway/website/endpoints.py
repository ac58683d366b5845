"""Which requests are website requests: a Host under a website endpoint, or the website port.

``<bucket>.<endpoint>`` for any configured ``websiteEndpoints`` name (CloudServer's rule, the
longest endpoint winning, so dotted bucket names work); on the dedicated website port every request
is one, the bucket being the Host's first label when no endpoint matches.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Collection
from dataclasses import dataclass, field

from aiohttp import web

from gateway.s3.router import bucket_from_host


@dataclass
class WebsitePorts:
    """The local ports serving only websites, filled in once their sockets are bound."""

    ports: set[int] = field(default_factory=set)


WEBSITE_PORTS = web.AppKey("website_ports", WebsitePorts)


def local_port(request: web.Request) -> int | None:
    transport = request.transport
    sockname = transport.get_extra_info("sockname") if transport is not None else None
    return sockname[1] if isinstance(sockname, tuple) and len(sockname) >= 2 else None


def website_bucket(host: str | None, endpoints: Collection[str], on_website_port: bool) -> str | None:
    """The bucket a website request is for, or None when the request is not a website request."""
    bucket = bucket_from_host(host, endpoints)
    if bucket is not None or not on_website_port:
        return bucket
    name = (host or "").rsplit(":", 1)[0] if not (host or "").startswith("[") else ""
    if not name or _is_ip_address(name):
        return ""  # an address names no bucket: the request gets NoSuchBucket
    return name.split(".", 1)[0].lower()


def _is_ip_address(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


def request_website_bucket(request: web.Request, endpoints: Collection[str]) -> str | None:
    ports = request.app.get(WEBSITE_PORTS)
    on_website_port = ports is not None and bool(ports.ports) and local_port(request) in ports.ports
    return website_bucket(request.host, endpoints, on_website_port)
