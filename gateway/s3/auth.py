"""Request authentication: SigV4 (header and presigned query), SigV2 (header and query), anonymous.

``Authenticator.authenticate`` answers WHO signed the request and HOW its body
must be checked (:class:`PayloadSpec`); it never reads the body. Whether the
principal may do the operation is decided by the caller.
"""

from __future__ import annotations

import calendar
import re
import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Literal

from gateway.s3 import sigv2, sigv4
from gateway.s3.accounts import Account, AccountStore
from gateway.s3.errors import (
    AccessDenied,
    AuthorizationHeaderMalformed,
    AuthorizationQueryParametersError,
    InvalidAccessKeyId,
    InvalidArgument,
    InvalidRequest,
    InvalidToken,
    RequestTimeTooSkewed,
    S3Error,
    S3NotImplemented,
    SignatureDoesNotMatch,
)
from gateway.s3.regions import DEFAULT_REGION, SERVICE, expected_region
from gateway.s3.sigv4 import ChunkSigning, Credential

MAX_SKEW_SECONDS = 15 * 60
MAX_PRESIGN_EXPIRES = 604800
_HEX64 = re.compile(r"^[0-9a-fA-F]{64}\Z")
_INTEGER = re.compile(r"^-?[0-9]{1,12}\Z")
_AMZ_DATE = "%Y%m%dT%H%M%SZ"

PayloadMode = Literal[
    "unsigned", "sha256", "streaming-signed", "streaming-unsigned-trailer", "streaming-signed-trailer"
]


@dataclass(frozen=True)
class Principal:
    account: Account | None  # None: anonymous
    access_key: str | None

    @property
    def is_anonymous(self) -> bool:
        return self.account is None

    @property
    def canonical_id(self) -> str | None:
        return self.account.canonical_id if self.account else None


ANONYMOUS = Principal(account=None, access_key=None)


@dataclass(frozen=True)
class PayloadSpec:
    """How the request body must be decoded and verified (see :mod:`gateway.s3.body`)."""

    mode: PayloadMode = "unsigned"
    expected_sha256: str | None = None  # lowercase hex, for mode "sha256"
    chunk_signing: ChunkSigning | None = None  # for the streaming-signed modes

    @property
    def is_streaming(self) -> bool:
        return self.mode.startswith("streaming")

    @property
    def has_trailer(self) -> bool:
        return self.mode.endswith("trailer")


UNSIGNED = PayloadSpec()


@dataclass(frozen=True)
class AuthResult:
    principal: Principal
    payload: PayloadSpec
    signature_version: Literal["v4", "v2"] | None = None  # None: anonymous
    region: str | None = None  # the SigV4 credential scope's region
    presigned: bool = False


class Authenticator:
    def __init__(
        self,
        accounts: AccountStore,
        clock: Callable[[], float] = time.time,
        regions: Callable[[], Collection[str]] = lambda: (DEFAULT_REGION,),
    ) -> None:
        self._accounts = accounts
        self._clock = clock
        self._regions = regions

    def authenticate(
        self,
        method: str,
        raw_path: str,
        raw_query: str,
        headers: Mapping[str, str],
        virtual_host_bucket: str | None = None,
    ) -> AuthResult:
        """Verifies the request's signature; raises an S3Error when it is present but wrong."""
        raw_path = raw_path.split("?", 1)[0]
        query_pairs = sigv4.parse_raw_query(raw_query)
        query_names = {name for name, _ in query_pairs}
        authorization = _first(headers, "authorization")
        v4_query = "X-Amz-Algorithm" in query_names or "X-Amz-Signature" in query_names
        v2_query = "Signature" in query_names and "AWSAccessKeyId" in query_names
        if sum(map(bool, (authorization is not None, v4_query, v2_query))) > 1:
            raise InvalidArgument(
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature "
                "query string parameter or the Authorization header should be specified",
                ArgumentName="Authorization",
                ArgumentValue=authorization,
            )
        if authorization is not None:
            if authorization.startswith(sigv4.ALGORITHM + " "):
                return self._v4_header(method, raw_path, query_pairs, headers, authorization)
            if authorization.startswith("AWS "):
                return self._v2_header(
                    method, raw_path, query_pairs, headers, authorization, virtual_host_bucket
                )
            raise InvalidArgument(
                "Unsupported Authorization Type", ArgumentName="Authorization", ArgumentValue=authorization
            )
        if v4_query:
            return self._v4_query(method, raw_path, query_pairs, headers)
        if v2_query:
            return self._v2_query(method, raw_path, query_pairs, headers, virtual_host_bucket)
        return AuthResult(principal=ANONYMOUS, payload=_unsigned_payload(headers))

    # --- SigV4 -------------------------------------------------------------------------------------

    def _v4_header(
        self,
        method: str,
        raw_path: str,
        query_pairs: list[tuple[str, str]],
        headers: Mapping[str, str],
        authorization: str,
    ) -> AuthResult:
        fields = _parse_v4_authorization(authorization)
        credential = Credential.parse(fields["Credential"])
        if credential is None:
            raise AuthorizationHeaderMalformed(
                "The authorization header is malformed; the Credential is mal-formed; "
                'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
            )
        self.check_scope(credential, AuthorizationHeaderMalformed, "The authorization header is malformed")
        timestamp, request_time = self._v4_request_time(headers)
        if credential.date != timestamp[:8]:
            raise AuthorizationHeaderMalformed(
                f"The authorization header is malformed; Invalid credential date. Date is not the same as "
                f'X-Amz-Date: "{credential.date}".'
            )
        self._check_skew(request_time)
        signed_headers = fields["SignedHeaders"].lower().split(";")
        _require_signed_headers(headers, signed_headers)
        account, secret = self._lookup(credential.access_key)
        content_sha256 = _first(headers, "x-amz-content-sha256")
        if content_sha256 is None:
            raise InvalidRequest("Missing required header for this request: x-amz-content-sha256")
        key = sigv4.signing_key(secret, credential.date, credential.region, credential.service)
        signature = fields["Signature"]
        self._verify_v4(
            key, method, raw_path, sigv4.canonical_query(query_pairs), headers, signed_headers, content_sha256,
            timestamp, credential.scope, signature,
        )  # fmt: skip
        payload = _payload_for(content_sha256, ChunkSigning(key, credential.scope, timestamp, signature))
        return AuthResult(Principal(account, credential.access_key), payload, "v4", credential.region)

    def _v4_query(
        self, method: str, raw_path: str, query_pairs: list[tuple[str, str]], headers: Mapping[str, str]
    ) -> AuthResult:
        params = dict(query_pairs)
        required = (
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
        )
        missing = [name for name in required if not params.get(name)]
        if missing or "X-Amz-Expires" not in params:
            raise AuthorizationQueryParametersError(
                "Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, "
                "X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters."
            )
        if params["X-Amz-Algorithm"] != sigv4.ALGORITHM:
            raise AuthorizationQueryParametersError(
                'X-Amz-Algorithm only supports "AWS4-HMAC-SHA256"', ArgumentValue=params["X-Amz-Algorithm"]
            )
        if "X-Amz-Security-Token" in params:
            raise InvalidToken("Session tokens are not supported.")
        credential = Credential.parse(params["X-Amz-Credential"])
        if credential is None:
            raise AuthorizationQueryParametersError(
                "Error parsing the X-Amz-Credential parameter; the Credential is mal-formed; "
                'expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".'
            )
        self.check_scope(
            credential, AuthorizationQueryParametersError, "Error parsing the X-Amz-Credential parameter"
        )
        expires_raw = params["X-Amz-Expires"]
        if not _INTEGER.match(expires_raw):
            raise AuthorizationQueryParametersError("X-Amz-Expires should be a number")
        expires = int(expires_raw)
        if expires < 1:
            raise AuthorizationQueryParametersError("X-Amz-Expires must be non-negative")
        if expires > MAX_PRESIGN_EXPIRES:
            raise AuthorizationQueryParametersError(
                "X-Amz-Expires must be less than a week (in seconds) that is; 604800 seconds"
            )
        timestamp = params["X-Amz-Date"]
        request_time = _parse_amz_date(timestamp, AuthorizationQueryParametersError)
        if credential.date != timestamp[:8]:
            raise AuthorizationQueryParametersError(
                f'Invalid credential date "{credential.date}". This date is not the same as X-Amz-Date: '
                f'"{timestamp[:8]}".'
            )
        now = self._clock()
        if now > request_time + expires:
            raise AccessDenied(
                "Request has expired",
                **{
                    "X-Amz-Expires": str(expires),
                    "Expires": _iso(request_time + expires),
                    "ServerTime": _iso(now),
                },
            )
        if request_time - now > MAX_SKEW_SECONDS:
            raise AccessDenied("Request is not valid yet")
        signed_headers = params["X-Amz-SignedHeaders"].lower().split(";")
        _require_signed_headers(headers, signed_headers)
        account, secret = self._lookup(credential.access_key)
        content_sha256 = _first(headers, "x-amz-content-sha256") or sigv4.UNSIGNED_PAYLOAD
        key = sigv4.signing_key(secret, credential.date, credential.region, credential.service)
        query = sigv4.canonical_query(query_pairs, exclude="X-Amz-Signature")
        self._verify_v4(
            key, method, raw_path, query, headers, signed_headers, content_sha256, timestamp, credential.scope,
            params["X-Amz-Signature"],
        )  # fmt: skip
        payload = _payload_for(
            content_sha256, ChunkSigning(key, credential.scope, timestamp, params["X-Amz-Signature"])
        )
        return AuthResult(
            Principal(account, credential.access_key), payload, "v4", credential.region, presigned=True
        )

    def _verify_v4(
        self,
        key: bytes,
        method: str,
        raw_path: str,
        query: str,
        headers: Mapping[str, str],
        signed_headers: list[str],
        payload_hash: str,
        timestamp: str,
        scope: str,
        signature: str,
    ) -> None:
        # The AWS canonical form first; the path exactly as sent covers clients that encode differently.
        for uri in dict.fromkeys((sigv4.canonical_uri(raw_path), raw_path or "/")):
            canonical = sigv4.canonical_request(method, uri, query, headers, signed_headers, payload_hash)
            expected = sigv4.sign(key, sigv4.string_to_sign(timestamp, scope, canonical))
            if sigv4.signatures_equal(expected, signature.lower()):
                return
        raise SignatureDoesNotMatch()

    def _v4_request_time(self, headers: Mapping[str, str]) -> tuple[str, float]:
        amz_date = _first(headers, "x-amz-date")
        if amz_date:
            return amz_date, _parse_amz_date(amz_date, AccessDenied)
        http_date = _first(headers, "date")
        if http_date:
            seconds = _parse_http_date(http_date)
            return time.strftime(_AMZ_DATE, time.gmtime(seconds)), seconds
        raise AccessDenied("AWS authentication requires a valid Date or x-amz-date header")

    # --- SigV2 -------------------------------------------------------------------------------------

    def _v2_header(
        self,
        method: str,
        raw_path: str,
        query_pairs: list[tuple[str, str]],
        headers: Mapping[str, str],
        authorization: str,
        virtual_host_bucket: str | None,
    ) -> AuthResult:
        access_key, sep, signature = authorization[4:].strip().rpartition(":")
        if not sep or not access_key or not signature:
            raise InvalidArgument(
                "Authorization header is invalid -- one and only one ' ' (space) required",
                ArgumentName="Authorization",
                ArgumentValue=authorization,
            )
        amz_date, http_date = _first(headers, "x-amz-date"), _first(headers, "date")
        if amz_date:
            self._check_skew(_parse_http_date(amz_date))
        elif http_date:
            self._check_skew(_parse_http_date(http_date))
        else:
            raise AccessDenied("AWS authentication requires a valid Date or x-amz-date header")
        account, secret = self._lookup(access_key)
        # With x-amz-date the Date line is empty per the spec; some clients still sign the Date header.
        date_lines = dict.fromkeys(("" if amz_date else (http_date or ""), (http_date or "").strip()))
        for resource in self._v2_resources(raw_path, query_pairs, virtual_host_bucket):
            for date_line in date_lines:
                text = sigv2.string_to_sign(method, headers, date_line, resource)
                if sigv4.signatures_equal(sigv2.sign(secret, text), signature):
                    return AuthResult(Principal(account, access_key), _unsigned_payload(headers), "v2")
        raise SignatureDoesNotMatch()

    def _v2_query(
        self,
        method: str,
        raw_path: str,
        query_pairs: list[tuple[str, str]],
        headers: Mapping[str, str],
        virtual_host_bucket: str | None,
    ) -> AuthResult:
        params = dict(query_pairs)
        access_key, signature, expires_raw = (
            params["AWSAccessKeyId"],
            params["Signature"],
            params.get("Expires"),
        )
        if not expires_raw:
            raise AccessDenied(
                "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"
            )
        try:
            expires = int(expires_raw)
        except ValueError:
            raise AccessDenied("Invalid date (should be seconds since epoch): " + expires_raw) from None
        now = self._clock()
        if now > expires:
            raise AccessDenied("Request has expired", Expires=_iso(expires), ServerTime=_iso(now))
        account, secret = self._lookup(access_key)
        extra_amz = {name: value for name, value in query_pairs if name.lower().startswith("x-amz-")}
        for resource in self._v2_resources(raw_path, query_pairs, virtual_host_bucket):
            text = sigv2.string_to_sign(
                method,
                headers,
                expires_raw,
                resource,
                extra_amz=extra_amz,
                content_md5=params.get("Content-MD5", params.get("content-md5")),
                content_type=params.get("Content-Type", params.get("content-type")),
            )
            if sigv4.signatures_equal(sigv2.sign(secret, text), signature):
                return AuthResult(
                    Principal(account, access_key), _unsigned_payload(headers), "v2", presigned=True
                )
        raise SignatureDoesNotMatch()

    @staticmethod
    def _v2_resources(
        raw_path: str, query_pairs: list[tuple[str, str]], virtual_host_bucket: str | None
    ) -> list[str]:
        paths = dict.fromkeys((raw_path or "/", sigv4.canonical_uri(raw_path)))
        if virtual_host_bucket is None and raw_path.count("/") == 1 and len(raw_path) > 1:
            # A path-style bucket request ("/bucket") is signed with the resource "/bucket/" (botocore, S3 docs).
            paths[raw_path + "/"] = None
        return [sigv2.canonical_resource(path, query_pairs, virtual_host_bucket) for path in paths]

    # --- shared ------------------------------------------------------------------------------------

    def credentials(self, access_key: str) -> tuple[Account, str]:
        """The account and secret key of ``access_key`` (for bodies signed with it, e.g. POST forms)."""
        return self._lookup(access_key)

    def account(self, canonical_id: str) -> Account | None:
        """The account with ``canonical_id`` (e.g. a bucket's owner), if it is still defined."""
        return self._accounts.by_canonical_id(canonical_id)

    def now(self) -> float:
        return self._clock()

    def accounts(self) -> AccountStore:
        return self._accounts

    def replace_accounts(self, accounts: AccountStore) -> None:
        """Serves ``accounts`` from the next request on (accounts changed in etcd, say)."""
        self._accounts = accounts

    def serve_regions(self, regions: Callable[[], Collection[str]]) -> Authenticator:
        """Accepts credential scopes of ``regions`` from the next request on; returns this authenticator
        (changed in place, so accounts replaced later through ``replace_accounts`` still apply)."""
        self._regions = regions
        return self

    def check_scope(self, credential: Credential, error: type[S3Error], prefix: str) -> None:
        """Refuses a credential scoped to another service or to a region this endpoint does not serve."""
        if credential.service != SERVICE:
            raise error(
                f"{prefix}; incorrect service '{credential.service}'. This endpoint belongs to '{SERVICE}'."
            )
        regions = frozenset(self._regions())
        if credential.region not in regions:
            expected = expected_region(regions)
            refusal = error(
                f"{prefix}; the region '{credential.region}' is wrong; expecting '{expected}'",
                Region=expected,
            )
            # A HEAD answer has no body: SDKs find the region to retry with in this header.
            refusal.headers["x-amz-bucket-region"] = expected
            raise refusal

    def _lookup(self, access_key: str) -> tuple[Account, str]:
        found = self._accounts.lookup(access_key)
        if found is None:
            raise InvalidAccessKeyId(AWSAccessKeyId=access_key)
        return found

    def _check_skew(self, request_time: float) -> None:
        now = self._clock()
        if abs(now - request_time) > MAX_SKEW_SECONDS:
            raise RequestTimeTooSkewed(
                RequestTime=_iso(request_time), ServerTime=_iso(now), MaxAllowedSkewMilliseconds="900000"
            )


def _parse_v4_authorization(authorization: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for part in authorization[len(sigv4.ALGORITHM) :].split(","):
        name, sep, value = part.strip().partition("=")
        if sep:
            fields[name.strip()] = value.strip()
    for name in ("Credential", "SignedHeaders", "Signature"):
        if not fields.get(name):
            raise AuthorizationHeaderMalformed(
                f"The authorization header is malformed; missing {name}.", **{"Header": authorization}
            )
    return fields


def _require_signed_headers(headers: Mapping[str, str], signed_headers: list[str]) -> None:
    """AWS's rule: ``host`` and every ``x-amz-*`` header sent must be covered by the signature.

    Otherwise a captured request could be replayed with another Host (another virtual-hosted bucket)
    or with added x-amz-* headers (an ACL, a copy source) within its validity window.
    """
    signed = set(signed_headers)
    names = dict.fromkeys(name.lower() for name in headers)
    unsigned = [name for name in names if name.startswith("x-amz-") and name not in signed]
    if "host" not in signed:
        unsigned.insert(0, "host")
    if unsigned:
        raise AccessDenied(
            "There were headers present in the request which were not signed",
            HeadersNotSigned=", ".join(unsigned),
        )


def _payload_for(content_sha256: str, signing: ChunkSigning) -> PayloadSpec:
    if _HEX64.match(content_sha256):
        return PayloadSpec("sha256", expected_sha256=content_sha256.lower())
    if content_sha256 == sigv4.UNSIGNED_PAYLOAD:
        return UNSIGNED
    if content_sha256 == sigv4.STREAMING_SIGNED:
        return PayloadSpec("streaming-signed", chunk_signing=signing)
    if content_sha256 == sigv4.STREAMING_SIGNED_TRAILER:
        return PayloadSpec("streaming-signed-trailer", chunk_signing=signing)
    if content_sha256 == sigv4.STREAMING_UNSIGNED_TRAILER:
        return PayloadSpec("streaming-unsigned-trailer")
    if content_sha256 in (sigv4.STREAMING_ECDSA, sigv4.STREAMING_ECDSA_TRAILER):
        raise S3NotImplemented("SigV4a streaming payloads are not supported.")
    raise InvalidArgument(
        "x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, "
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, "
        "or a valid sha256 value.",
        ArgumentName="x-amz-content-sha256",
        ArgumentValue=content_sha256,
    )


def _unsigned_payload(headers: Mapping[str, str]) -> PayloadSpec:
    """The body check for requests whose signature does not cover the body (anonymous, SigV2)."""
    content_sha256 = _first(headers, "x-amz-content-sha256")
    if content_sha256 is None or content_sha256 == sigv4.UNSIGNED_PAYLOAD:
        return UNSIGNED
    if content_sha256 in (sigv4.STREAMING_SIGNED, sigv4.STREAMING_SIGNED_TRAILER):
        raise InvalidRequest(
            "A signed streaming payload requires AWS Signature Version 4 header authentication."
        )
    return _payload_for(content_sha256, ChunkSigning(b"", "", "", ""))


def _first(headers: Mapping[str, str], name: str) -> str | None:
    values = sigv4.header_values(headers, name)
    return values[0] if values else None


def _parse_amz_date(value: str, error: type[S3Error]) -> float:
    try:
        return _amz_date_seconds(value)
    except ValueError:
        if error is AccessDenied:
            raise AccessDenied("AWS authentication requires a valid Date or x-amz-date header") from None
        raise error(
            f"X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\": {value}"
        ) from None


def _amz_date_seconds(value: str) -> float:
    """``yyyyMMdd'T'HHmmss'Z'`` to epoch seconds, without strptime (it is slow and on every request)."""
    if len(value) != 16 or value[8] != "T" or value[15] != "Z" or not (value[:8] + value[9:15]).isdigit():
        raise ValueError(value)
    moment = datetime(
        int(value[0:4]),
        int(value[4:6]),
        int(value[6:8]),
        int(value[9:11]),
        int(value[11:13]),
        int(value[13:15]),
        tzinfo=UTC,
    )
    return moment.timestamp()


def _parse_http_date(value: str) -> float:
    try:
        parsed = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        try:  # x-amz-date in SigV2 requests is sometimes the ISO basic form
            return float(calendar.timegm(time.strptime(value.strip(), _AMZ_DATE)))
        except ValueError:
            raise AccessDenied("AWS authentication requires a valid Date or x-amz-date header") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
