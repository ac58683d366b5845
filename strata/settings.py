"""Settings of the embedded server and the gateway, from the environment and CloudServer-format files.

Every field has a default and a one-line description; bad values fail at startup.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coordinator.locations import default_locations, validate_locations
from gateway.limits import GatewayOptions
from protos.errors import StrataError
from strata.runtime.errors import StartupError, listen_error

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
# CloudServer's S3METADATA / S3DATA values that Strata serves (S3BACKEND picks file or memory).
SUPPORTED_METADATA = ("file", "mem")
SUPPORTED_DATA = ("file", "mem", "multiple")


class SettingsError(StartupError, ValueError):
    """A setting is missing or malformed; the message says which and how to fix it."""


def validate_port(port: object, what: str = "port") -> int:
    """A TCP port number (0 picks a free one), or a SettingsError naming the setting."""
    try:
        number = int(str(port))
    except ValueError:
        raise SettingsError(f"{what} must be a number from 0 to 65535, not {port!r}") from None
    if not 0 <= number <= 65535:
        raise SettingsError(f"{what} must be a number from 0 to 65535, not {number}")
    return number


@dataclass(frozen=True)
class CertificatePaths:
    """config.json ``certFilePaths``: PEM files that turn the S3 port into HTTPS (docs/https.md)."""

    key: str  # the server's private key
    cert: str  # the server's certificate (followed by any intermediates)
    ca: str | None = None  # the CA that signed cert; also trusted for client certificates


# CloudServer's config.json ``websiteEndpoints``: <bucket>.<endpoint> hosts are served as websites.
DEFAULT_WEBSITE_ENDPOINTS = ("s3-website-us-east-1.amazonaws.com", "s3-website.localhost")


def default_rest_endpoints() -> dict[str, str]:
    return {"localhost": "us-east-1", "127.0.0.1": "us-east-1", "s3.amazonaws.com": "us-east-1"}


@dataclass(frozen=True)
class ServerSettings:
    backend: str = "file"  # S3BACKEND: file (disk) or mem (memory, lost at exit)
    host: str = DEFAULT_HOST  # LISTEN_ADDR / --host: address the S3 port binds (0.0.0.0: every address)
    port: int = DEFAULT_PORT  # --port / config.json port: the S3 port
    data_path: str = "./localData"  # S3DATAPATH: blob files of the file backend
    metadata_path: str = "./localMetadata"  # S3METADATAPATH: RocksDB directory of the file backend
    authdata_path: str | None = None  # S3AUTH_CONFIG: CloudServer conf/authdata.json
    config_path: str | None = None  # S3_CONFIG_FILE: CloudServer config.json
    location_path: str | None = None  # S3_LOCATION_FILE: CloudServer locationConfig.json
    rest_endpoints: Mapping[str, str] = field(default_factory=default_rest_endpoints)
    website_endpoints: tuple[str, ...] = DEFAULT_WEBSITE_ENDPOINTS  # config.json websiteEndpoints
    locations: Mapping[str, Mapping[str, Any]] = field(
        default_factory=lambda: embedded_default_locations("file")
    )
    replication_group_id: str = "RG001"  # replicationGroupId of config.json
    gc_interval_s: float = 10.0  # STRATA_GC_INTERVAL: seconds between garbage-collection passes
    intent_ttl_s: float = 3600.0  # STRATA_INTENT_TTL: uncommitted uploads older than this are collected
    gc_grace_s: float = 300.0  # STRATA_GC_GRACE: unreferenced blobs are kept this long for reads in flight
    # -- lifecycle
    lifecycle_interval_s: float = 60.0  # STRATA_LIFECYCLE_INTERVAL: seconds between lifecycle ticks
    lifecycle_day_s: float = 86400.0  # STRATA_LIFECYCLE_DAY_SECONDS: the length of a lifecycle "day"
    certificates: CertificatePaths | None = None  # certFilePaths of config.json; with SSL=true: serve HTTPS
    gateway: GatewayOptions = field(default_factory=GatewayOptions)  # timeouts, caps, regions (STRATA_* env)


def endpoint_names(value: str) -> list[str]:
    """``ENDPOINT``: host names, comma-separated; CloudServer's examples write them as URLs
    (``http://localhost``), so a scheme, a port and a path are dropped."""
    names = []
    for raw in value.split(","):
        name = raw.strip()
        name = name.split("://", 1)[1] if "://" in name else name
        name = name.split("/", 1)[0].rsplit(":", 1)[0] if not name.startswith("[") else name
        if name:
            names.append(name)
    return names


def with_env_endpoints(endpoints: Mapping[str, str], env: Mapping[str, str] = os.environ) -> dict[str, str]:
    """``restEndpoints`` plus the host names of ``ENDPOINT``, which serve the default location."""
    merged = dict(endpoints)
    for name in endpoint_names(env.get("ENDPOINT", "")):
        merged.setdefault(name, "us-east-1")
    return merged


def parse_listen(address: str, what: str) -> tuple[str, int]:
    """``host:port`` (``[v6]:port`` too) of a listen option, or a SettingsError naming the option."""
    host, separator, port = address.rpartition(":")
    if not separator or not host:
        raise SettingsError(f"{what} must be host:port, not {address!r}")
    return host.strip("[]"), validate_port(port, what)


def check_can_listen(host: str, port: int) -> None:
    """Binds and releases ``host:port`` so a taken port or an unknown host fails with one clear line."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
        family, kind, proto, _, sockaddr = infos[0]
        with socket.socket(family, kind, proto) as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind(sockaddr)
    except OSError as error:
        raise listen_error(host, port, error) from None


def usable_directory(path: str, what: str) -> None:
    """Creates ``path`` if missing; a SettingsError when it is not a writable directory."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise SettingsError(f"{what} {path} is not usable: it is not a directory")
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise SettingsError(f"{what} {path} is not usable: {error.strerror or error}") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise SettingsError(f"{what} {path} is not usable: not writable")


def _read_json(path: str, what: str) -> dict[str, Any]:
    try:
        value = json.loads(Path(path).read_text())
    except OSError as error:
        raise SettingsError(f"cannot read {what} {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise SettingsError(f"{what} {path} is not valid JSON: {error}") from None
    if not isinstance(value, dict):
        raise SettingsError(f"{what} {path} must hold a JSON object")
    return value


def embedded_default_locations(backend: str) -> dict[str, dict[str, Any]]:
    """The default locations whose data lives as long as the metadata: no disk location when
    everything stays in memory, no memory location when metadata is on disk."""
    dropped = "file" if backend == "mem" else "mem"
    return {name: loc for name, loc in default_locations(backend).items() if loc["type"] != dropped}


def check_data_outlives_metadata(backend: str, locations: Mapping[str, Mapping[str, Any]]) -> None:
    """Metadata on disk with data in memory would list objects whose bytes a restart threw away."""
    if backend == "mem":
        return
    for name, location in locations.items():
        if location.get("type") == "mem":
            raise SettingsError(
                f"location {name!r} has type 'mem' but metadata is kept on disk (backend {backend!r}): "
                "its objects would outlive their data at restart; use type 'file' or S3BACKEND=mem"
            )


def _validated_locations(locations: dict[str, Any], path: str) -> dict[str, Any]:
    try:
        validate_locations(locations)
    except StrataError as error:
        raise SettingsError(f"location file {path}: {error.message}") from None
    return locations


def _certificates(config: Mapping[str, Any], env: Mapping[str, str]) -> CertificatePaths | None:
    """HTTPS when config.json has certFilePaths (or SSL=true, which then requires them)."""
    ssl_flag = env.get("SSL", "").strip().lower()
    if ssl_flag not in ("", "true", "false", "1", "0", "yes", "no"):
        raise SettingsError(f"SSL must be true or false, not {env['SSL']!r}")
    raw = config.get("certFilePaths")
    if ssl_flag in ("false", "0", "no"):
        return None
    if raw is None:
        if ssl_flag:
            raise SettingsError(
                "SSL=true needs certFilePaths {key, cert, ca} in config.json (S3_CONFIG_FILE); "
                "docs/https.md shows how to make them"
            )
        return None
    if not isinstance(raw, dict) or not raw.get("key") or not raw.get("cert"):
        raise SettingsError(
            "certFilePaths must be an object with 'key' and 'cert' (and optionally 'ca') paths"
        )
    paths = CertificatePaths(
        key=str(raw["key"]), cert=str(raw["cert"]), ca=str(raw["ca"]) if raw.get("ca") else None
    )
    for name in ("key", "cert", "ca"):
        path = getattr(paths, name)
        if path is not None and not Path(path).is_file():
            raise SettingsError(f"certFilePaths.{name}: {path} is not a readable file")
    return paths


def load_certificates(env: Mapping[str, str] = os.environ) -> CertificatePaths | None:
    """The S3 port's certificates for a process that reads only them (a cluster gateway)."""
    config_path = env.get("S3_CONFIG_FILE")
    config = _read_json(config_path, "config file") if config_path else {}
    return _certificates(config, env)


def server_ssl_context(paths: CertificatePaths) -> ssl.SSLContext:
    """The TLS context of the S3 port, from config.json's certFilePaths."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certfile=paths.cert, keyfile=paths.key)
    if paths.ca:
        context.load_verify_locations(cafile=paths.ca)
    return context


def _check_cloudserver_backends(env: Mapping[str, str], backend: str) -> None:
    """CloudServer's S3METADATA and S3DATA: refuse the stores Strata does not have."""
    metadata = env.get("S3METADATA")
    if metadata is not None and metadata not in SUPPORTED_METADATA:
        raise SettingsError(
            f"S3METADATA={metadata} is not supported: Strata's metadata stores are file (RocksDB) "
            "and mem; leave it unset and choose with S3BACKEND"
        )
    if metadata is not None and metadata != backend:
        raise SettingsError(
            f"S3METADATA={metadata} does not match the {backend} backend; set S3BACKEND={metadata} instead"
        )
    data = env.get("S3DATA")
    if data is not None and data not in SUPPORTED_DATA:
        raise SettingsError(
            f"S3DATA={data} is not supported (use {', '.join(SUPPORTED_DATA)}, or leave it unset; "
            "S3_LOCATION_FILE defines the locations)"
        )
    if data in ("file", "mem") and data != backend:
        raise SettingsError(
            f"S3DATA={data} does not match the {backend} backend; set S3BACKEND={data} instead"
        )


def load_gateway_options(env: Mapping[str, str] = os.environ) -> GatewayOptions:
    """The S3 port's limits and extra regions, from STRATA_HEADER_TIMEOUT, STRATA_BODY_IDLE_TIMEOUT,
    STRATA_MAX_CONNECTIONS, STRATA_MAX_PUT_SIZE and STRATA_REGIONS (comma-separated)."""
    defaults = GatewayOptions()

    def number(name: str, default: float, kind: type[float] | type[int]) -> float:
        raw = env.get(name, "").strip()
        if not raw:
            return default
        try:
            value = kind(raw)
        except ValueError:
            raise SettingsError(f"{name} must be a {kind.__name__}, not {raw!r}") from None
        if value <= 0:
            raise SettingsError(f"{name} must be positive, not {raw!r}")
        return value

    return GatewayOptions(
        header_timeout_s=number("STRATA_HEADER_TIMEOUT", defaults.header_timeout_s, float),
        body_idle_timeout_s=number("STRATA_BODY_IDLE_TIMEOUT", defaults.body_idle_timeout_s, float),
        max_connections=int(number("STRATA_MAX_CONNECTIONS", defaults.max_connections, int)),
        max_put_size=int(number("STRATA_MAX_PUT_SIZE", defaults.max_put_size, int)),
        extra_regions=tuple(
            region.strip() for region in env.get("STRATA_REGIONS", "").split(",") if region.strip()
        ),
        website_port=_website_port(env),
        kms_dir=env.get("STRATA_KMS_DIR", "").strip(),  # encryption at rest
    )


def _website_port(env: Mapping[str, str]) -> int | None:
    raw = env.get("STRATA_WEBSITE_PORT", "").strip()
    return validate_port(raw, "STRATA_WEBSITE_PORT") if raw else None


def website_endpoints(config: Mapping[str, Any]) -> tuple[str, ...]:
    """config.json ``websiteEndpoints`` (a list of host names), or the defaults when absent."""
    value = config.get("websiteEndpoints")
    if value is None:
        return DEFAULT_WEBSITE_ENDPOINTS
    if not isinstance(value, list) or not all(isinstance(name, str) and name.strip() for name in value):
        raise SettingsError("websiteEndpoints of the config file must be a list of host names")
    return tuple(name.strip().lower() for name in value)


def _positive_setting(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, not {raw!r}") from None
    if not value > 0:
        raise SettingsError(f"{name} must be positive, not {raw!r}")
    return value


def load_server_settings(
    env: Mapping[str, str] = os.environ,
    backend: str | None = None,
    host: str | None = None,
    port: int | str | None = None,
) -> ServerSettings:
    backend = backend or env.get("S3BACKEND", "file")
    if backend not in ("file", "mem"):
        raise SettingsError(f"S3BACKEND must be 'file' or 'mem', not {backend!r}")
    _check_cloudserver_backends(env, backend)
    config_path = env.get("S3_CONFIG_FILE")
    config = _read_json(config_path, "config file") if config_path else {}
    location_path = env.get("S3_LOCATION_FILE")
    locations = (
        _validated_locations(_read_json(location_path, "location file"), location_path)
        if location_path
        else embedded_default_locations(backend)
    )
    check_data_outlives_metadata(backend, locations)
    rest_endpoints = with_env_endpoints(config.get("restEndpoints") or default_rest_endpoints(), env)
    for name, location in rest_endpoints.items():
        if location not in locations:
            raise SettingsError(f"restEndpoints maps {name!r} to unknown location {location!r}")
    try:
        gc_interval = float(env.get("STRATA_GC_INTERVAL", "10"))
        intent_ttl = float(env.get("STRATA_INTENT_TTL", "3600"))
        gc_grace = float(env.get("STRATA_GC_GRACE", "300"))
    except ValueError as error:
        raise SettingsError(
            f"bad number in STRATA_GC_INTERVAL/STRATA_INTENT_TTL/STRATA_GC_GRACE: {error}"
        ) from None
    lifecycle_interval = _positive_setting(env, "STRATA_LIFECYCLE_INTERVAL", 60.0)
    lifecycle_day = _positive_setting(env, "STRATA_LIFECYCLE_DAY_SECONDS", 86400.0)
    listen_host = host or env.get("LISTEN_ADDR") or DEFAULT_HOST
    if port is not None:
        listen_port = validate_port(port, "--port")
    else:
        listen_port = validate_port(config.get("port", DEFAULT_PORT), f"port of {config_path}")
    return ServerSettings(
        backend=backend,
        host=listen_host,
        port=listen_port,
        data_path=env.get("S3DATAPATH", "./localData"),
        metadata_path=env.get("S3METADATAPATH", "./localMetadata"),
        authdata_path=env.get("S3AUTH_CONFIG"),
        config_path=config_path,
        location_path=location_path,
        rest_endpoints=rest_endpoints,
        website_endpoints=website_endpoints(config),
        locations=locations,
        replication_group_id=str(config.get("replicationGroupId", "RG001")),
        gc_interval_s=gc_interval,
        intent_ttl_s=intent_ttl,
        gc_grace_s=gc_grace,
        lifecycle_interval_s=lifecycle_interval,
        lifecycle_day_s=lifecycle_day,
        certificates=_certificates(config, env),
        gateway=load_gateway_options(env),
    )


# --- What each setting means and where it comes from: the source of docs/configuration.md ---


@dataclass(frozen=True)
class SettingDoc:
    """How one setting is given and what it does (rendered by ``scripts/gen-config-docs``)."""

    meaning: str
    environment: tuple[str, ...] = ()  # variables that set it; "" when only a file or flag does
    cloudserver: str = ""  # the CloudServer name Strata reads for it (variable or config.json key)
    flag: str = ""  # the `strata server` option that overrides the environment


# Keyed by ServerSettings field; "gateway.<name>" for the GatewayOptions fields.
SETTING_DOCS: dict[str, SettingDoc] = {
    "backend": SettingDoc(
        "where the embedded server keeps metadata and (with the default locations) data: `file` "
        "(RocksDB and blob files on disk) or `mem` (lost at exit)",
        ("S3BACKEND",),
        "S3BACKEND",
        "--backend",
    ),
    "host": SettingDoc(
        "address the S3 port binds; `0.0.0.0` serves every address (set your own credentials first)",
        ("LISTEN_ADDR",),
        "LISTEN_ADDR",
        "--host",
    ),
    "port": SettingDoc("the S3 port; `0` picks a free one", (), "config.json `port`", "--port"),
    "data_path": SettingDoc(
        "directory of the blob files of the `file` backend", ("S3DATAPATH",), "S3DATAPATH"
    ),
    "metadata_path": SettingDoc(
        "RocksDB directory of the `file` backend (one server at a time: RocksDB locks it)",
        ("S3METADATAPATH",),
        "S3METADATAPATH",
    ),
    "authdata_path": SettingDoc(
        "accounts file in CloudServer's `conf/authdata.json` format (unset: the built-in default "
        "accounts); SCALITY_ACCESS_KEY_ID/SCALITY_SECRET_ACCESS_KEY replace it with one account",
        ("S3AUTH_CONFIG",),
        "S3AUTH_CONFIG",
    ),
    "config_path": SettingDoc(
        "CloudServer `config.json`: `port`, `restEndpoints`, `websiteEndpoints`, `replicationGroupId`, "
        "`certFilePaths`",
        ("S3_CONFIG_FILE",),
        "S3_CONFIG_FILE",
    ),
    "location_path": SettingDoc(
        "CloudServer `locationConfig.json`: the data locations (unset: `us-east-1` on the chosen "
        "backend, plus `file` or `mem`)",
        ("S3_LOCATION_FILE",),
        "S3_LOCATION_FILE",
    ),
    "rest_endpoints": SettingDoc(
        "host names served as S3 endpoints (virtual-hosted-style buckets under them), each with the "
        "default location of buckets created through it; ENDPOINT adds names mapped to `us-east-1`",
        ("ENDPOINT",),
        "config.json `restEndpoints`, ENDPOINT",
    ),
    "website_endpoints": SettingDoc(
        "host names of static website endpoints: a request to `<bucket>.<name>` is served from the "
        "bucket's website configuration (docs/websites.md)",
        (),
        "config.json `websiteEndpoints`",
    ),
    "locations": SettingDoc(
        "the data locations, read from S3_LOCATION_FILE", ("S3_LOCATION_FILE",), "locationConfig.json"
    ),
    "replication_group_id": SettingDoc(
        "part of every version id this server makes", (), "config.json `replicationGroupId`"
    ),
    "gc_interval_s": SettingDoc("seconds between garbage-collection passes", ("STRATA_GC_INTERVAL",)),
    "intent_ttl_s": SettingDoc(
        "seconds after which the blobs of an upload that never committed are collected",
        ("STRATA_INTENT_TTL",),
    ),
    "gc_grace_s": SettingDoc(
        "seconds an unreferenced blob is kept so reads already in flight can finish",
        ("STRATA_GC_GRACE",),
    ),
    "lifecycle_interval_s": SettingDoc(
        "seconds between lifecycle ticks (each reads a bounded batch of every configured bucket)",
        ("STRATA_LIFECYCLE_INTERVAL",),
    ),
    "lifecycle_day_s": SettingDoc(
        'seconds in a lifecycle "day" (Days, NoncurrentDays, DaysAfterInitiation); shorter for tests',
        ("STRATA_LIFECYCLE_DAY_SECONDS",),
    ),
    "certificates": SettingDoc(
        "PEM key, certificate and CA that make the S3 port HTTPS; SSL=false turns them off, SSL=true "
        "requires them (docs/https.md)",
        ("SSL",),
        "config.json `certFilePaths`, SSL",
    ),
    "gateway.header_timeout_s": SettingDoc(
        "seconds a connection may take to send a request head; also how long an idle keep-alive "
        "connection stays open",
        ("STRATA_HEADER_TIMEOUT",),
    ),
    "gateway.body_idle_timeout_s": SettingDoc(
        "seconds a request body may stall before the request fails with `400 RequestTimeout`",
        ("STRATA_BODY_IDLE_TIMEOUT",),
    ),
    "gateway.max_connections": SettingDoc(
        "concurrent client connections per gateway; more are answered `503 SlowDown`",
        ("STRATA_MAX_CONNECTIONS",),
    ),
    "gateway.max_put_size": SettingDoc(
        "largest single PUT in bytes, also enforced on chunked bodies of unknown length",
        ("STRATA_MAX_PUT_SIZE",),
    ),
    "gateway.extra_regions": SettingDoc(
        "regions (comma-separated) a SigV4 credential scope may name besides `us-east-1`, each "
        "location's name and its `details.region`",
        ("STRATA_REGIONS",),
    ),
    "gateway.website_port": SettingDoc(
        "an extra port (plain HTTP) that serves only static websites, the bucket named by the Host "
        "header (docs/websites.md); unset: none",
        ("STRATA_WEBSITE_PORT",),
    ),
    # encryption at rest
    "gateway.kms_dir": SettingDoc(
        "directory of the master keys that wrap the data keys of encrypted objects (docs/encryption.md); "
        "every gateway of a cluster must use the same directory. Unset: `<S3DATAPATH>/kms` with the "
        "`file` backend, a temporary directory (lost at exit) with `mem`; a cluster gateway without it "
        "refuses encrypted writes and reads with 503",
        ("STRATA_KMS_DIR",),
    ),
}


@dataclass(frozen=True)
class EnvironmentDoc:
    """An environment variable read outside ServerSettings (by the cluster roles, logging, ...)."""

    variable: str
    read_by: str
    default: str
    meaning: str
    cloudserver: bool = False  # CloudServer reads the same name


OTHER_ENVIRONMENT: tuple[EnvironmentDoc, ...] = (
    EnvironmentDoc(
        "STRATA_METRICS_LISTEN",
        "server, gateway, metanode, datanode, coordinator",
        "unset (no metrics port)",
        "HOST:PORT of the process's /metrics, /live and /ready (the --metrics-listen option)",
    ),
    EnvironmentDoc(
        "SCALITY_ACCESS_KEY_ID",
        "server, gateway",
        "unset",
        "with SCALITY_SECRET_ACCESS_KEY: one account (`CustomAccount`) replaces the accounts file; on a "
        "cluster gateway it overrides the accounts stored in etcd for that gateway",
        cloudserver=True,
    ),
    EnvironmentDoc(
        "SCALITY_SECRET_ACCESS_KEY",
        "server, gateway",
        "unset",
        "the secret key of SCALITY_ACCESS_KEY_ID (the two must be set together)",
        cloudserver=True,
    ),
    EnvironmentDoc(
        "S3METADATA",
        "server",
        "unset",
        "CloudServer's metadata store: `file` or `mem`, matching S3BACKEND; any other store is refused",
        cloudserver=True,
    ),
    EnvironmentDoc(
        "S3DATA",
        "server",
        "unset",
        "CloudServer's data store: `file` or `mem` (matching S3BACKEND) or `multiple` (locations from "
        "S3_LOCATION_FILE); any other store is refused",
        cloudserver=True,
    ),
    EnvironmentDoc(
        "LOG_LEVEL",
        "server and every role",
        "info",
        "`trace`, `debug`, `info`, `warn` or `error`; another value stops the start",
        cloudserver=True,
    ),
    EnvironmentDoc(
        "STRATA_ETCD",
        "cluster roles, `strata admin`",
        "127.0.0.1:2379",
        "etcd endpoint(s), `host:port[,host:port]` (the default of `--etcd`)",
    ),
    EnvironmentDoc(
        "STRATA_CLUSTER",
        "cluster roles, `strata admin`",
        "local",
        "cluster name, the prefix of its keys in etcd (the default of `--cluster`)",
    ),
    EnvironmentDoc(
        "STRATA_ETCD_BINARY",
        "`strata cluster up`",
        "etcd on PATH",
        "the etcd server the local cluster starts (unset: PATH, then the usual install places)",
    ),
    EnvironmentDoc(
        "STRATA_SHARD", "metanode", "s1", "the shard a metanode serves (the default of `--shard`)"
    ),
    EnvironmentDoc(
        "STRATA_DISK_RESERVE_MB",
        "datanode",
        "0",
        "free disk space (MB) a `file` datanode never writes into (the default of `--disk-reserve-mb`)",
    ),
    EnvironmentDoc(
        "STRATA_LEADER_WAIT",
        "gateway",
        "10",
        "seconds a request waits for its shard to have a reachable metadata leader before `503`",
    ),
    EnvironmentDoc(
        "<location>_<SETTING>",
        "datanode, server",
        "unset",
        "per-location overrides of an external location's credentials and endpoint, as CloudServer "
        "names them (e.g. `azurebackend_AZURE_STORAGE_ACCESS_KEY`); the azure, gcp, b2 and swift "
        "pages of docs/backends/ list them",
        cloudserver=True,
    ),
    EnvironmentDoc(
        "AWS_SHARED_CREDENTIALS_FILE",
        "datanode, server",
        "~/.aws/credentials",
        "the credentials file an `aws_s3` location's `credentialsProfile` is read from",
    ),
)
