import xml.etree.ElementTree as ET

import pytest

from gateway.s3 import errors
from gateway.s3.errors import S3Error, from_strata_error, render
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError


def test_code_is_class_name_and_status_is_set():
    assert errors.NoSuchKey.code == "NoSuchKey"
    assert errors.NoSuchKey.status == 404
    assert errors.NotImplemented.code == "NotImplemented"
    assert errors.NotImplemented.status == 501
    assert errors.InvalidRange.status == 416
    assert errors.MissingContentLength.status == 411
    assert errors.XAmzContentSHA256Mismatch.code == "XAmzContentSHA256Mismatch"


def test_every_error_class_has_a_status_and_message():
    classes = [v for v in vars(errors).values() if isinstance(v, type) and issubclass(v, S3Error)]
    assert len(classes) > 50
    for cls in classes:
        assert 400 <= cls.status <= 599, cls
        assert cls.default_message, cls
        assert cls().message == cls.default_message


def test_render_produces_s3_error_document_with_details_escaped():
    body = render(errors.NoSuchKey(Key="a&b<c>"), "req-1", "/bucket/a&b<c>")
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(body)
    assert root.tag == "Error"
    assert [child.tag for child in root] == ["Code", "Message", "Key", "Resource", "RequestId"]
    assert root.findtext("Code") == "NoSuchKey"
    assert root.findtext("Key") == "a&b<c>"
    assert root.findtext("Resource") == "/bucket/a&b<c>"
    assert root.findtext("RequestId") == "req-1"


def test_custom_message_and_none_details_are_dropped():
    error = errors.InvalidArgument("bad max-keys", ArgumentName="max-keys", ArgumentValue=None)
    assert error.message == "bad max-keys"
    assert error.details == {"ArgumentName": "max-keys"}


@pytest.mark.parametrize(
    ("reason", "expected", "detail"),
    [
        (ErrorReason.NO_SUCH_BUCKET, errors.NoSuchBucket, ("BucketName", "bkt")),
        (ErrorReason.NO_SUCH_KEY, errors.NoSuchKey, ("Key", "k")),
        (ErrorReason.NO_SUCH_VERSION, errors.NoSuchVersion, None),
        (ErrorReason.NO_SUCH_UPLOAD, errors.NoSuchUpload, None),
        (ErrorReason.BUCKET_EXISTS, errors.BucketAlreadyExists, None),
        (ErrorReason.BUCKET_OWNED_BY_YOU, errors.BucketAlreadyOwnedByYou, None),
        (ErrorReason.BUCKET_NOT_EMPTY, errors.BucketNotEmpty, None),
        (ErrorReason.PRECONDITION_FAILED, errors.PreconditionFailed, None),
        (ErrorReason.CONFLICT, errors.ConditionalRequestConflict, None),
        (ErrorReason.BACKEND_UNAVAILABLE, errors.ServiceUnavailable, None),
        (ErrorReason.NOT_LEADER, errors.ServiceUnavailable, None),
        (ErrorReason.STALE_EPOCH, errors.ServiceUnavailable, None),
        (ErrorReason.BLOB_CORRUPT, errors.InternalError, None),
        (ErrorReason.CHECKSUM_MISMATCH, errors.InternalError, None),
        (ErrorReason.INTERNAL, errors.InternalError, None),
        (ErrorReason.INVALID_ARGUMENT, errors.InvalidArgument, None),
    ],
)
def test_from_strata_error_maps_each_reason(reason, expected, detail):
    result = from_strata_error(
        StrataError(reason, "secret internal detail /var/lib/x"), bucket="bkt", key="k"
    )
    assert type(result) is expected
    if detail:
        assert result.details[detail[0]] == detail[1]


def test_internal_failures_never_leak_their_text():
    for reason in (ErrorReason.INTERNAL, ErrorReason.BLOB_CORRUPT, ErrorReason.BACKEND_UNAVAILABLE):
        result = from_strata_error(StrataError(reason, "rocksdb: IO error at /data/007.sst"))
        assert "rocksdb" not in render(result, "r", "/").decode()
