"""PostObject: browser form uploads (multipart/form-data) authorized by a signed policy document.

The form is read as a stream: the fields before ``file`` are small and read
whole (at most 20 KiB, as S3 does), the file part is streamed into
``write.store_data`` in pieces of about 1 MiB, and fields after the file are
ignored. The policy (base64 JSON: expiration and conditions) is signed with
SigV4 (``x-amz-signature``) or SigV2 (``signature``); every condition is checked
before a byte is stored, except ``content-length-range``, which is checked as
the file streams in. A rejected upload stores nothing.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import posixpath
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlencode, urlsplit

from aiohttp import BodyPartReader, MultipartReader, web

from gateway.api import checksums
from gateway.api.common import STORED_CONTENT_HEADERS, object_meta, owned_bucket, user_metadata
from gateway.api.object_put import parse_content_md5
from gateway.api.unsupported import STORED_STORAGE_CLASS, check_form_fields
from gateway.api.write import commit_object, discard, store_data
from gateway.authz.acl_request import ACL_HEADER, GRANT_HEADER_PERMISSIONS
from gateway.authz.written import apply_written_acl
from gateway.context import RequestContext
from gateway.s3 import errors, sigv2, sigv4
from gateway.s3.auth import AuthResult, Principal
from gateway.s3.validation import validate_key
from gateway.s3.xml import document, element
from protos.metadata_pb2 import BucketInfo, ObjectMD

FILE_FIELD = "file"
PIECE_SIZE = 1024 * 1024
MAX_FIELDS_BYTES = 20 * 1024  # S3 refuses larger form fields before the file
LOCATION_FIELD = "x-amz-meta-scal-location-constraint"
# Fields a policy never has to mention (S3's rule), besides any x-ignore-* field.
UNCONDITIONED_FIELDS = frozenset({FILE_FIELD, "policy", "signature", "x-amz-signature", "awsaccesskeyid"})
SUCCESS_STATUSES = frozenset({200, 201, 204})
DEFAULT_CONTENT_TYPE = "binary/octet-stream"


@dataclass(frozen=True)
class Condition:
    """One policy condition: ``eq``/``starts-with`` on a field, or the file's ``content-length-range``."""

    operator: str  # "eq", "starts-with" or "content-length-range"
    field: str  # lower-case form field name without '$'; "" for content-length-range
    value: str = ""
    minimum: int = 0
    maximum: int = 0
    source: str = ""  # the condition as written, for error messages

    def holds(self, fields: Mapping[str, str]) -> bool:
        actual = fields.get(self.field, "")
        if self.operator == "eq":
            return actual == self.value
        if self.field == "content-type" and "," in actual:
            return all(part.strip().startswith(self.value) for part in actual.split(","))
        return actual.startswith(self.value)


@dataclass(frozen=True)
class Policy:
    expiration: float  # epoch seconds
    conditions: tuple[Condition, ...]

    def size_range(self) -> tuple[int, int | None]:
        ranges = [c for c in self.conditions if c.operator == "content-length-range"]
        if not ranges:
            return 0, None
        return max(c.minimum for c in ranges), min(c.maximum for c in ranges)


@dataclass
class Form:
    fields: dict[str, str]  # lower-case name -> value, the fields before the file
    file: BodyPartReader
    filename: str


# --- the policy document ------------------------------------------------------------------------------


def parse_policy(encoded: str) -> Policy:
    """Decodes and validates a base64 JSON policy; InvalidPolicyDocument when it is malformed."""
    try:
        parsed_document = json.loads(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise errors.InvalidPolicyDocument("Invalid Policy: Invalid JSON.") from None
    if not isinstance(parsed_document, dict):
        raise errors.InvalidPolicyDocument("Invalid Policy: Invalid JSON.")
    expiration = parsed_document.get("expiration")
    if not isinstance(expiration, str):
        raise errors.InvalidPolicyDocument("Invalid Policy: Policy missing expiration.")
    try:
        expires_at = datetime.fromisoformat(expiration.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise errors.InvalidPolicyDocument(
            f"Invalid Policy: Invalid 'expiration' value: '{expiration}'"
        ) from None
    conditions = parsed_document.get("conditions")
    if not isinstance(conditions, list):
        raise errors.InvalidPolicyDocument("Invalid Policy: Policy missing conditions.")
    parsed: list[Condition] = []
    for raw in conditions:
        parsed.extend(_parse_condition(raw))
    return Policy(expires_at, tuple(parsed))


def _parse_condition(raw: Any) -> list[Condition]:
    source = json.dumps(raw)
    invalid = errors.InvalidPolicyDocument(f"Invalid Policy: Invalid Condition: {source}")
    if isinstance(raw, dict):
        if not raw or not all(isinstance(v, str) for v in raw.values()):
            raise invalid
        return [Condition("eq", name.lower(), value, source=source) for name, value in raw.items()]
    if not isinstance(raw, list) or len(raw) != 3 or not isinstance(raw[0], str):
        raise invalid
    operator = raw[0].lower()
    if operator == "content-length-range":
        try:
            low, high = int(raw[1]), int(raw[2])
        except (TypeError, ValueError):
            raise invalid from None
        if low < 0 or high < low:
            raise invalid
        return [Condition(operator, "", minimum=low, maximum=high, source=source)]
    if operator not in ("eq", "starts-with") or not isinstance(raw[1], str) or not isinstance(raw[2], str):
        raise invalid
    if not raw[1].startswith("$"):
        raise invalid
    return [Condition(operator, raw[1][1:].lower(), raw[2], source=source)]


def check_policy(policy: Policy, fields: Mapping[str, str], now: float) -> None:
    """Raises AccessDenied unless the policy is current, every condition holds and covers every field."""
    if now > policy.expiration:
        raise errors.AccessDenied("Invalid according to Policy: Policy expired.")
    for condition in policy.conditions:
        if condition.operator != "content-length-range" and not condition.holds(fields):
            raise errors.AccessDenied(
                f"Invalid according to Policy: Policy Condition failed: {condition.source}"
            )
    covered = {condition.field for condition in policy.conditions}
    for name in fields:
        if name in UNCONDITIONED_FIELDS or name.startswith("x-ignore-") or name == "bucket":
            continue
        if name not in covered:
            raise errors.AccessDenied(f"Invalid according to Policy: Extra input fields: {name}")


def verify_signature(ctx: RequestContext, fields: Mapping[str, str]) -> Principal | None:
    """The account that signed the form's policy; None for an unsigned form (anonymous)."""
    authenticator = ctx.services.authenticator
    policy = fields.get("policy")
    if "x-amz-signature" in fields:
        for name in ("x-amz-algorithm", "x-amz-credential", "x-amz-date"):
            if not fields.get(name):
                raise errors.InvalidArgument(
                    f"Bucket POST must contain a field named '{name}'.", ArgumentName=name
                )
        if fields["x-amz-algorithm"] != sigv4.ALGORITHM:
            raise errors.InvalidArgument(
                "Only AWS4-HMAC-SHA256 is supported", ArgumentName="x-amz-algorithm",
                ArgumentValue=fields["x-amz-algorithm"],
            )  # fmt: skip
        credential = sigv4.Credential.parse(fields["x-amz-credential"])
        if credential is None or credential.date != fields["x-amz-date"][:8]:
            raise errors.InvalidArgument(
                "Invalid x-amz-credential",
                ArgumentName="x-amz-credential",
                ArgumentValue=fields["x-amz-credential"],
            )
        authenticator.check_scope(
            credential,
            errors.AuthorizationQueryParametersError,
            "Error parsing the X-Amz-Credential parameter",
        )
        if policy is None:
            raise errors.InvalidArgument(
                "Bucket POST must contain a field named 'policy'.", ArgumentName="policy"
            )
        account, secret = authenticator.credentials(credential.access_key)
        key = sigv4.signing_key(secret, credential.date, credential.region, credential.service)
        if not sigv4.signatures_equal(sigv4.sign(key, policy), fields["x-amz-signature"].lower()):
            raise errors.SignatureDoesNotMatch()
        return Principal(account, credential.access_key)
    if "signature" in fields or "awsaccesskeyid" in fields:
        for name in ("awsaccesskeyid", "signature", "policy"):
            if not fields.get(name):
                raise errors.InvalidArgument(
                    f"Bucket POST must contain a field named '{name}'.", ArgumentName=name
                )
        account, secret = authenticator.credentials(fields["awsaccesskeyid"])
        if not sigv4.signatures_equal(sigv2.sign(secret, fields["policy"]), fields["signature"]):
            raise errors.SignatureDoesNotMatch()
        return Principal(account, fields["awsaccesskeyid"])
    if policy is not None:
        raise errors.InvalidArgument(
            "Bucket POST must contain a field named 'AWSAccessKeyId'.", ArgumentName="AWSAccessKeyId"
        )
    return None


# --- the form stream ------------------------------------------------------------------------------------


async def read_form(request: web.Request) -> Form:
    """Reads the fields up to the file part and leaves the file unread."""
    if request.content_type != "multipart/form-data":
        raise errors.PreconditionFailed(
            "At least one of the pre-conditions you specified did not hold",
            Condition="Bucket POST must be of the enclosure-type multipart/form-data",
        )
    fields: dict[str, str] = {}
    budget = MAX_FIELDS_BYTES
    try:
        reader = await request.multipart()
        while True:
            part = await reader.next()
            if part is None:
                break
            if isinstance(part, MultipartReader) or part.name is None:
                raise errors.MalformedPOSTRequest()
            name = part.name.lower()
            if name == FILE_FIELD:
                return Form(fields, part, posixpath.basename((part.filename or "").replace("\\", "/")))
            value = bytearray()
            while chunk := await part.read_chunk(4096):
                value += chunk
                if len(value) > budget:
                    raise errors.MaxPostPreDataLengthExceeded()
            budget -= len(value)
            fields[name] = value.decode("utf-8")
    except (ValueError, AssertionError, UnicodeDecodeError):
        raise errors.MalformedPOSTRequest() from None
    raise errors.InvalidArgument(
        "POST requires exactly one file upload per request.", ArgumentName="file", ArgumentValue="0"
    )


async def _file_pieces(part: BodyPartReader, first: bytes = b"") -> AsyncIterator[bytes]:
    pending = bytearray(first)
    try:
        while chunk := await part.read_chunk(PIECE_SIZE):
            pending += chunk
            if len(pending) >= PIECE_SIZE:
                yield bytes(pending)
                pending.clear()
    except (ValueError, AssertionError):
        raise errors.MalformedPOSTRequest() from None
    if pending:
        yield bytes(pending)


async def _bounded(pieces: AsyncIterator[bytes], minimum: int, maximum: int | None) -> AsyncIterator[bytes]:
    """Enforces the policy's content-length-range as the file streams through."""
    total = 0
    async for piece in pieces:
        total += len(piece)
        if maximum is not None and total > maximum:
            raise errors.EntityTooLarge(
                "Your proposed upload exceeds the maximum allowed size", MaxSizeAllowed=maximum
            )
        yield piece
    if total < minimum:
        raise errors.EntityTooSmall(
            "Your proposed upload is smaller than the minimum allowed size", MinSizeAllowed=minimum
        )


async def _peek_small_file(part: BodyPartReader, limit: int) -> tuple[bytes, bool]:
    """Reads up to ``limit`` + 1 bytes so a small file's length is known (and can be stored inline)."""
    head = bytearray()
    try:
        while len(head) <= limit:
            chunk = await part.read_chunk(limit + 1 - len(head))
            if not chunk:
                return bytes(head), True
            head += chunk
    except (ValueError, AssertionError):
        raise errors.MalformedPOSTRequest() from None
    return bytes(head), False


# --- the handler ------------------------------------------------------------------------------------------


def _object_md(ctx: RequestContext, fields: Mapping[str, str], key: str, location: str) -> ObjectMD:
    md = ObjectMD(
        key=key,
        location=location,
        storage_class=STORED_STORAGE_CLASS,  # the only class accepted (gateway.api.unsupported)
        website_redirect_location=fields.get("x-amz-website-redirect-location", ""),
        content_type=DEFAULT_CONTENT_TYPE,
    )
    for header, field_name in STORED_CONTENT_HEADERS.items():
        value = fields.get(header.lower())
        if value is not None:
            setattr(md, field_name, value)
    md.user_metadata.update(user_metadata(fields))
    return md


def _form_acl(ctx: RequestContext, fields: Mapping[str, str], bucket: BucketInfo, md: ObjectMD) -> None:
    """The owner and ACL of the posted object: the form's ``acl`` field is its canned ACL. Grant
    fields are not read from forms, so a form carrying one is refused rather than stored without it."""
    for name in GRANT_HEADER_PERMISSIONS:
        if name in fields:
            raise errors.S3NotImplemented(f"The form field {name} is not implemented; use acl.", Header=name)
    acl_fields = {ACL_HEADER: fields["acl"]} if "acl" in fields else {}
    apply_written_acl(md, bucket, ctx.principal.account, acl_fields, ctx.services.authenticator.accounts())


def _location(ctx: RequestContext, fields: Mapping[str, str], bucket: BucketInfo) -> str:
    requested = fields.get(LOCATION_FIELD)
    if requested:
        if requested not in ctx.services.locations():
            raise errors.InvalidLocationConstraint(f"Location {requested} is not configured")
        return requested
    return bucket.location or ctx.host_location()


def _object_url(ctx: RequestContext, key: str) -> str:
    request = ctx.request
    path = "/" + quote(key) if ctx.endpoint.virtual_host else f"/{quote(ctx.bucket)}/{quote(key)}"
    return f"{request.scheme}://{request.host}{path}"


def _success_response(ctx: RequestContext, fields: Mapping[str, str], key: str, etag: str) -> web.Response:
    quoted_etag = f'"{etag}"'
    headers = {"ETag": quoted_etag, "Location": _object_url(ctx, key)}
    redirect = fields.get("success_action_redirect") or fields.get("redirect")
    if redirect and urlsplit(redirect).scheme in ("http", "https") and urlsplit(redirect).netloc:
        query = urlencode({"bucket": ctx.bucket, "key": key, "etag": quoted_etag})
        headers["Location"] = redirect + ("&" if urlsplit(redirect).query else "?") + query
        return web.Response(status=303, headers=headers)
    try:
        status = int(fields.get("success_action_status", "204"))
    except ValueError:
        status = 204
    if status not in SUCCESS_STATUSES:
        status = 204
    if status == 201:
        root = element(
            "PostResponse",
            None,
            element("Location", headers["Location"]),
            element("Bucket", ctx.bucket),
            element("Key", key),
            element("ETag", quoted_etag),
        )
        body = document(root, namespace=None)  # S3's PostResponse carries no namespace
        return web.Response(status=201, body=body, content_type="application/xml", headers=headers)
    return web.Response(status=status, headers=headers)


async def post_object(ctx: RequestContext) -> web.StreamResponse:
    form = await read_form(ctx.request)
    fields = form.fields
    principal = verify_signature(ctx, fields)
    if principal is not None:
        ctx = dataclasses.replace(
            ctx, auth=AuthResult(principal, ctx.auth.payload, ctx.auth.signature_version)
        )
    # An unsigned form writes where anonymous writes are allowed: the bucket's decision says where.
    check_form_fields(fields)
    raw_key = fields.get("key")
    if raw_key is None:
        raise errors.InvalidArgument(
            "Bucket POST must contain a field named 'key'.  If it is specified, please check the order of the fields.",
            ArgumentName="key",
        )
    key = raw_key.replace("${filename}", form.filename)
    if not key:
        raise errors.InvalidArgument("User key must have a length greater than 0.", ArgumentName="key")
    validate_key(key)
    minimum: int = 0
    maximum: int | None = None
    if principal is not None or "policy" in fields:
        policy = parse_policy(fields["policy"])
        check_policy(policy, {**fields, "key": key, "bucket": ctx.bucket}, ctx.services.authenticator.now())
        minimum, maximum = policy.size_range()
    maximum = ctx.services.max_put_size if maximum is None else min(maximum, ctx.services.max_put_size)
    # Integrity fields, as their headers are for PutObject: a mismatch is BadDigest, stores nothing.
    md5_expected = parse_content_md5(fields.get("content-md5"))
    checksum = checksums.for_write(fields, trailer_allowed=False)
    bucket = await owned_bucket(ctx)
    if bucket.encryption:
        # encryption at rest: a form's file has no length up front, which sealing needs; refused
        # rather than stored in the clear in a bucket that encrypts by default.
        raise errors.S3NotImplemented("Form uploads to a bucket with default encryption are not implemented.")
    location = _location(ctx, fields, bucket)
    md = _object_md(ctx, fields, key, location)
    _form_acl(ctx, fields, bucket, md)
    head, complete = await _peek_small_file(form.file, ctx.services.inline_threshold)
    pieces = _bounded(_file_pieces(form.file, head), minimum, maximum)
    stored = await store_data(
        ctx, bucket.name, key, location, pieces, len(head) if complete else None, hashers=checksum.hashers,
        meta=object_meta(md),
    )  # fmt: skip
    try:
        if md5_expected is not None and stored.md5 != md5_expected:
            raise errors.BadDigest()
        verified = checksum.result()
        if verified is not None:
            md.checksums.append(verified)
        committed = await commit_object(ctx, bucket, md, stored)
    except BaseException:
        await discard(ctx, stored)
        raise
    response = _success_response(ctx, fields, key, stored.etag)
    if checksum.requested is not None:
        response.headers.update(checksums.checksum_headers(md.checksums))
    if committed.version_id:
        response.headers["x-amz-version-id"] = committed.version_id
    return response
