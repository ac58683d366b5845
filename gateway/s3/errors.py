"""S3 errors: one class per S3 error code (code = class name), rendered once as S3 XML.

Handlers and the protocol layer raise these; the app's middleware renders them
with :func:`render`. Domain failures (``StrataError``) become S3 errors only
through :func:`from_strata_error`, so internal text never reaches a client.
"""

from __future__ import annotations

from typing import ClassVar
from xml.sax.saxutils import escape

from protos.common_pb2 import ErrorReason
from protos.errors import StrataError


class S3Error(Exception):
    """Base of every S3 error; ``code`` defaults to the subclass name."""

    code: ClassVar[str] = "InternalError"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "We encountered an internal error. Please try again."
    # The request's bytes cannot be trusted past this error: answer, then close the connection.
    closes_connection: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if "code" not in cls.__dict__:
            cls.code = cls.__name__

    def __init__(self, message: str | None = None, **details: object) -> None:
        self.message = message or self.default_message
        self.details: dict[str, str] = {
            name: str(value) for name, value in details.items() if value is not None
        }
        # Response headers the error carries (e.g. x-amz-delete-marker on a 404 for a delete marker).
        self.headers: dict[str, str] = {}
        super().__init__(self.message)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r}, {self.details!r})"


class AccessDenied(S3Error):
    status = 403
    default_message = "Access Denied"


class AccessForbidden(S3Error):
    """A CORS preflight the bucket's configuration does not admit (gateway/api/bucket_cors.py)."""

    status = 403
    default_message = "CORSResponse: This CORS request is not allowed."


class AccountProblem(S3Error):
    status = 403
    default_message = "There is a problem with your account that prevents the operation from completing."


class AuthorizationHeaderMalformed(S3Error):
    status = 400
    default_message = "The authorization header is malformed."


class AuthorizationQueryParametersError(S3Error):
    status = 400
    default_message = "The query parameters that provide authentication information are not valid."


class BadRequest(S3Error):
    status = 400
    default_message = "An error occurred when parsing the HTTP request."


class MalformedChunkedBody(BadRequest):
    """The chunked framing broke inside a body being read."""

    code = "BadRequest"
    closes_connection = True
    default_message = "The chunked transfer encoding of the request body is malformed."


class BadDigest(S3Error):
    status = 400
    default_message = "The Content-MD5 you specified did not match what we received."


class BucketAlreadyExists(S3Error):
    status = 409
    default_message = (
        "The requested bucket name is not available. The bucket namespace is shared by all users of "
        "the system. Please select a different name and try again."
    )


class BucketAlreadyOwnedByYou(S3Error):
    status = 409
    default_message = "Your previous request to create the named bucket succeeded and you already own it."


class BucketNotEmpty(S3Error):
    status = 409
    default_message = "The bucket you tried to delete is not empty."


class ConditionalRequestConflict(S3Error):
    status = 409
    default_message = (
        "The conditional request cannot succeed due to a conflicting operation against this resource."
    )


class CredentialsNotSupported(S3Error):
    status = 400
    default_message = "This request does not support credentials."


class EntityTooLarge(S3Error):
    status = 400
    default_message = "Your proposed upload exceeds the maximum allowed object size."


class EntityTooSmall(S3Error):
    status = 400
    default_message = "Your proposed upload is smaller than the minimum allowed object size."


class ExpiredToken(S3Error):
    status = 400
    default_message = "The provided token has expired."


class IllegalLocationConstraintException(S3Error):
    status = 400
    default_message = "The specified location-constraint is not valid for this endpoint."


class IllegalVersioningConfigurationException(S3Error):
    status = 400
    default_message = "The versioning configuration specified in the request is invalid."


class IncompleteBody(S3Error):
    status = 400
    default_message = "You did not provide the number of bytes specified by the Content-Length HTTP header."


class InternalError(S3Error):
    status = 500
    default_message = "We encountered an internal error. Please try again."


class InvalidAccessKeyId(S3Error):
    status = 403
    default_message = "The AWS access key Id you provided does not exist in our records."


class InvalidArgument(S3Error):
    status = 400
    default_message = "Invalid Argument"


class InvalidBucketName(S3Error):
    status = 400
    default_message = "The specified bucket is not valid."


class InvalidBucketState(S3Error):
    status = 409
    default_message = "The request is not valid with the current state of the bucket."


class InvalidDigest(S3Error):
    status = 400
    default_message = "The Content-MD5 you specified is not valid."


class InvalidEncryptionAlgorithmError(S3Error):
    status = 400
    default_message = "The encryption request you specified is not valid."


class InvalidLocationConstraint(S3Error):
    status = 400
    default_message = "The specified location constraint is not valid."


class InvalidObjectState(S3Error):
    status = 403
    default_message = "The operation is not valid for the current state of the object."


class InvalidPart(S3Error):
    status = 400
    default_message = (
        "One or more of the specified parts could not be found. The part might not have been uploaded, "
        "or the specified entity tag might not have matched the part's entity tag."
    )


class InvalidPartNumber(S3Error):
    # GetObject/HeadObject ?partNumber beyond the object's parts: a bad request, not a range problem.
    status = 400
    default_message = "The requested partnumber is not satisfiable"


class InvalidPartOrder(S3Error):
    status = 400
    default_message = "The list of parts was not in ascending order. Parts must be ordered by part number."


class InvalidPolicyDocument(S3Error):
    status = 400
    default_message = "The content of the form does not meet the conditions specified in the policy document."


class InvalidRange(S3Error):
    status = 416
    default_message = "The requested range is not satisfiable"


class InvalidRequest(S3Error):
    status = 400
    default_message = "Invalid Request"


class InvalidStorageClass(S3Error):
    status = 400
    default_message = "The storage class you specified is not valid."


class InvalidTag(S3Error):
    status = 400
    default_message = "The tag provided was not a valid tag."


class InvalidToken(S3Error):
    status = 400
    default_message = "The provided token is malformed or otherwise invalid."


class InvalidURI(S3Error):
    status = 400
    default_message = "Couldn't parse the specified URI."


class KeyTooLongError(S3Error):
    status = 400
    default_message = "Your key is too long."


class MalformedACLError(S3Error):
    status = 400
    default_message = (
        "The XML you provided was not well-formed or did not validate against our published schema."
    )


class MalformedPOSTRequest(S3Error):
    status = 400
    default_message = "The body of your POST request is not well-formed multipart/form-data."


class MalformedTrailerError(S3Error):
    status = 400
    default_message = "The request contained trailing data that was not well-formed or did not conform to our published schema."


class MalformedXML(S3Error):
    status = 400
    default_message = (
        "The XML you provided was not well-formed or did not validate against our published schema."
    )


class MaxMessageLengthExceeded(S3Error):
    status = 400
    default_message = "Your request was too big."


class MaxPostPreDataLengthExceeded(S3Error):
    code = "MaxPostPreDataLengthExceededError"
    status = 400
    default_message = "Your POST request fields preceding the upload file were too large."


class MetadataTooLarge(S3Error):
    status = 400
    default_message = "Your metadata headers exceed the maximum allowed metadata size."


class MethodNotAllowed(S3Error):
    status = 405
    default_message = "The specified method is not allowed against this resource."


class MissingContentLength(S3Error):
    status = 411
    default_message = "You must provide the Content-Length HTTP header."


class MissingRequestBodyError(S3Error):
    status = 400
    default_message = "Request Body is empty"


class MissingSecurityHeader(S3Error):
    status = 400
    default_message = "Your request was missing a required header."


class NoSuchBucket(S3Error):
    status = 404
    default_message = "The specified bucket does not exist."


class NoSuchBucketPolicy(S3Error):
    status = 404
    default_message = "The bucket policy does not exist"


class NoSuchCORSConfiguration(S3Error):
    status = 404
    default_message = "The CORS configuration does not exist"


class NoSuchKey(S3Error):
    status = 404
    default_message = "The specified key does not exist."


class NoSuchLifecycleConfiguration(S3Error):
    status = 404
    default_message = "The lifecycle configuration does not exist"


class NoSuchTagSet(S3Error):
    status = 404
    default_message = "The TagSet does not exist"


class NoSuchUpload(S3Error):
    status = 404
    default_message = (
        "The specified upload does not exist. The upload ID may be invalid, or the upload may have been "
        "aborted or completed."
    )


class NoSuchVersion(S3Error):
    status = 404
    default_message = "The specified version does not exist."


class NoSuchWebsiteConfiguration(S3Error):
    status = 404
    default_message = "The specified bucket does not have a website configuration"


# Shadows the builtin on purpose inside this module's namespace: the S3 code is literally this name.
class NotImplemented(S3Error):
    status = 501
    default_message = "A header you provided implies functionality that is not implemented."


class ObjectLockConfigurationNotFoundError(S3Error):
    status = 404
    default_message = "Object Lock configuration does not exist for this bucket"


class PreconditionFailed(S3Error):
    status = 412
    default_message = "At least one of the preconditions you specified did not hold."


class RequestHeaderSectionTooLarge(S3Error):
    status = 400
    default_message = "Your request header section exceeds the maximum allowed size."


class RequestTimeout(S3Error, TimeoutError):
    """Also a TimeoutError: aiohttp's lingering read of a stalled body then stops quietly."""

    status = 400
    default_message = (
        "Your socket connection to the server was not read from or written to within the timeout period."
    )


class RequestTimeTooSkewed(S3Error):
    status = 403
    default_message = "The difference between the request time and the current time is too large."


class ServerSideEncryptionConfigurationNotFoundError(S3Error):
    status = 404
    default_message = "The server side encryption configuration was not found"


class ServiceUnavailable(S3Error):
    status = 503
    default_message = "Please reduce your request rate."

    def __init__(self, message: str | None = None, **details: object) -> None:
        super().__init__(message, **details)
        # Unavailability here is brief (a leader election, a node restarting): say when to come back.
        self.headers["Retry-After"] = "1"


class SignatureDoesNotMatch(S3Error):
    status = 403
    default_message = (
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method."
    )


class SlowDown(S3Error):
    status = 503
    default_message = "Please reduce your request rate."


class TooManyBuckets(S3Error):
    status = 400
    default_message = "You have attempted to create more buckets than allowed."


class XAmzContentSHA256Mismatch(S3Error):
    status = 400
    default_message = "The provided 'x-amz-content-sha256' header does not match what was computed."


# --- access control (authz): ACLs, object ownership, public access block ---


class AccessControlListNotSupported(S3Error):
    status = 400
    default_message = "The bucket does not allow ACLs"


class InvalidBucketAclWithObjectOwnership(S3Error):
    status = 400
    default_message = "Bucket cannot have ACLs set with ObjectOwnership's BucketOwnerEnforced setting"


class NoSuchPublicAccessBlockConfiguration(S3Error):
    status = 404
    default_message = "The public access block configuration was not found"


class OwnershipControlsNotFoundError(S3Error):
    status = 404
    default_message = "The bucket ownership controls were not found"


class UnresolvableGrantByEmailAddress(S3Error):
    status = 400
    default_message = "The e-mail address you provided does not match any account on record."


def render(error: S3Error, request_id: str, resource: str) -> bytes:
    """The S3 XML error document for ``error``."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n<Error>',
        f"<Code>{escape(error.code)}</Code>",
        f"<Message>{escape(error.message)}</Message>",
    ]
    parts.extend(f"<{name}>{escape(value)}</{name}>" for name, value in error.details.items())
    parts.append(f"<Resource>{escape(resource)}</Resource>")
    parts.append(f"<RequestId>{escape(request_id)}</RequestId>")
    parts.append("</Error>")
    return "".join(parts).encode("utf-8")


def from_strata_error(err: StrataError, bucket: str | None = None, key: str | None = None) -> S3Error:
    """The single mapping from a domain failure to what an S3 client sees."""
    reason = err.reason
    if reason == ErrorReason.NO_SUCH_BUCKET:
        return NoSuchBucket(BucketName=bucket)
    if reason == ErrorReason.NO_SUCH_KEY:
        return NoSuchKey(Key=key)
    if reason == ErrorReason.NO_SUCH_VERSION:
        return NoSuchVersion(Key=key)
    if reason == ErrorReason.NO_SUCH_UPLOAD:
        return NoSuchUpload()
    if reason == ErrorReason.BUCKET_EXISTS:
        return BucketAlreadyExists(BucketName=bucket)
    if reason == ErrorReason.BUCKET_OWNED_BY_YOU:
        return BucketAlreadyOwnedByYou(BucketName=bucket)
    if reason == ErrorReason.BUCKET_NOT_EMPTY:
        return BucketNotEmpty(BucketName=bucket)
    if reason == ErrorReason.PRECONDITION_FAILED:
        return PreconditionFailed()
    if reason == ErrorReason.CONFLICT:
        return ConditionalRequestConflict()
    if reason == ErrorReason.INVALID_ARGUMENT:
        # Domain validation messages are written for users (e.g. "max-keys must be >= 0").
        return InvalidArgument(err.message)
    if reason in (ErrorReason.QUOTA, ErrorReason.INSUFFICIENT_STORAGE):
        return ServiceUnavailable("The storage location has no capacity left.")
    if reason in (ErrorReason.BACKEND_UNAVAILABLE, ErrorReason.NOT_LEADER, ErrorReason.STALE_EPOCH):
        return ServiceUnavailable()
    if reason == ErrorReason.BACKEND_AUTH:
        # An external location refused Strata's credentials: the operator's problem, detail in our logs.
        return ServiceUnavailable("A storage location of this object could not be used right now.")
    if reason == ErrorReason.BACKEND_THROTTLED:
        return SlowDown()
    if reason == ErrorReason.OUTCOME_UNKNOWN:
        return ServiceUnavailable(
            "The metadata service changed leaders during the request; it may or may not have taken effect."
        )
    if reason == ErrorReason.BLOB_NOT_FOUND:
        # The metadata exists, so NoSuchKey would contradict HEAD and listings; no reachable copy of
        # the data does, which repair may fix: retryable, like any unavailable backend.
        return ServiceUnavailable("The object's data is not available right now. Please try again later.")
    if reason == ErrorReason.DATA_UNREACHABLE:
        return ServiceUnavailable("The data of this object is on datanodes that cannot be reached.")
    if reason == ErrorReason.NO_SUCH_INTENT:
        # Only an upload whose write intent was collected before its commit gets here.
        return ServiceUnavailable(
            "The upload's data could not be kept until it was committed; please retry the upload."
        )
    # BLOB_CORRUPT, CHECKSUM_MISMATCH, INTERNAL, unknown:
    # the detail stays in our logs, never in the response.
    return InternalError()


# Alias for call sites: linters read ``raise NotImplemented(...)`` as a misuse of the builtin constant.
S3NotImplemented = NotImplemented


# ---- bucket policy (gateway/policy, gateway/api/bucket_policy.py) ----


class MalformedPolicy(S3Error):
    status = 400
    default_message = "Policies must be valid JSON and the first byte must be '{'"


class PolicyTooLarge(S3Error):
    status = 400
    default_message = "Policy exceeds the maximum allowed document size."


# ---- bucket configuration: logging, website (gateway/api/bucket_config.py, gateway/website) ----


class InvalidTargetBucketForLogging(S3Error):
    status = 400
    default_message = "The target bucket for logging does not exist."
