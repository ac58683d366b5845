"""The checksum side of CompleteMultipartUpload: the client's whole-object checksum and the parts'.

For an upload created with a checksum algorithm, S3 wants every part in the completion
to carry that algorithm's checksum, and checks an ``x-amz-checksum-type`` and an
``x-amz-checksum-<algorithm>`` header against the upload's mode and the combined value.
The syntax is checked here; the value is compared by the metanode, which combines the
stored part checksums under the object's lock (so nothing is completed on a mismatch).
Uploads created without an algorithm ignore a whole-object checksum, as S3 does.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from gateway.api import checksums
from gateway.s3 import errors
from protos.common_pb2 import Checksum
from protos.metadata_pb2 import CompletedPart, UploadInfo

COMPOSITE = "COMPOSITE"
FULL_OBJECT = "FULL_OBJECT"


@dataclass(frozen=True)
class CompletionChecksum:
    """What a completion request says about the object's checksum (all empty when nothing)."""

    algorithm: str = ""
    value: str = ""
    checksum_type: str = ""


def _invalid_value(algorithm: str) -> errors.S3Error:
    return errors.InvalidRequest(f"Value for {checksums.header_name(algorithm)} header is invalid.")


def _validate_whole_value(algorithm: str, value: str) -> str:
    """A base64 digest of the algorithm's width, optionally followed by ``-<number of parts>``."""
    value = value.strip()
    digest_text, dash, count = value.partition("-")
    if dash and not (count.isdigit() and int(count) > 0):
        raise _invalid_value(algorithm)
    try:
        raw = base64.b64decode(digest_text, validate=True)
    except (binascii.Error, ValueError):
        raise _invalid_value(algorithm) from None
    if len(raw) != len(checksums.new_hasher(algorithm).digest()):
        raise _invalid_value(algorithm)
    return value


def requested(headers: Mapping[str, str]) -> CompletionChecksum:
    """Parses x-amz-checksum-<algorithm> and x-amz-checksum-type of a completion request."""
    raw_type = headers.get(checksums.TYPE_HEADER)
    checksum_type = raw_type.strip().upper() if raw_type is not None else ""
    if raw_type is not None and checksum_type not in (COMPOSITE, FULL_OBJECT):
        raise errors.InvalidRequest(f"Value for {checksums.TYPE_HEADER} header is invalid.")
    given = {
        algorithm: value
        for algorithm in checksums.ALGORITHMS
        if (value := headers.get(checksums.header_name(algorithm))) is not None
    }
    if len(given) > 1:
        raise errors.InvalidRequest(
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed."
        )
    if not given:
        return CompletionChecksum(checksum_type=checksum_type)
    ((algorithm, value),) = given.items()
    return CompletionChecksum(algorithm, _validate_whole_value(algorithm, value), checksum_type)


def _check_parts(upload: UploadInfo, parts: Sequence[CompletedPart]) -> None:
    wanted = upload.checksum_algorithm
    for part in parts:
        for checksum in part.checksums:
            if checksum.algorithm != wanted:
                raise errors.BadDigest(
                    f"The {checksum.algorithm.lower()} you specified for part {part.part_number} "
                    "did not match what we received."
                )
        if not any(checksum.algorithm == wanted for checksum in part.checksums):
            raise errors.InvalidRequest(
                f"The upload was created using a {wanted.lower()} checksum. The complete request must "
                f"include the checksum for each part. It was missing for part {part.part_number} "
                "in the request."
            )


def expected_checksum(
    upload: UploadInfo, parts: Sequence[CompletedPart], request: CompletionChecksum
) -> Checksum | None:
    """Checks the completion against the upload's checksum settings; the value for the metanode to verify."""
    if not upload.checksum_algorithm:
        return None
    _check_parts(upload, parts)
    if request.checksum_type and request.checksum_type != upload.checksum_type:
        raise errors.BadDigest(
            f"The upload was created using the {upload.checksum_type} checksum mode. "
            "The complete request must use the same checksum mode."
        )
    if not request.algorithm:
        return None
    if request.algorithm != upload.checksum_algorithm:
        raise errors.InvalidRequest(
            "Checksum Type mismatch occurred, expected checksum Type: "
            f"{upload.checksum_algorithm.lower()}, actual checksum Type: {request.algorithm.lower()}"
        )
    if upload.checksum_type == FULL_OBJECT and "-" in request.value:
        raise _invalid_value(request.algorithm)
    return Checksum(algorithm=request.algorithm, value=request.value)


def mismatch(algorithm: str) -> errors.S3Error:
    return errors.BadDigest(f"The {algorithm.lower()} you specified did not match the calculated checksum.")
