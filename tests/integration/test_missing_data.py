"""An object whose metadata survives but whose data is gone answers an S3 error, never a 500."""

from __future__ import annotations

import os

import pytest
from botocore.exceptions import ClientError

from protos.metadata_pb2 import GetObjectRequest


def _drop_data(server, bucket: str, key: str) -> None:
    md = server.call(server.server.core.get_object(GetObjectRequest(bucket=bucket, key=key)))
    assert md.blobs, "the object must live in blobs, not inline"
    for blob in md.blobs:
        server.call(server.server.data.delete(blob))


def _error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[str, int, str]:
    response = excinfo.value.response
    return (
        response["Error"]["Code"],
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["ResponseMetadata"].get("RequestId", ""),
    )


@pytest.mark.allow_server_errors(503)
def test_get_of_an_object_whose_data_is_gone_is_service_unavailable(server, s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="lost", Body=os.urandom(300_000))
    _drop_data(server, bucket, "lost")
    for extra in ({}, {"Range": "bytes=100-199"}):
        with pytest.raises(ClientError) as excinfo:
            s3.get_object(Bucket=bucket, Key="lost", **extra)
        code, status, request_id = _error(excinfo)
        # A parsed Code (not just the status) proves the answer was an S3 XML error document.
        assert (code, status) == ("ServiceUnavailable", 503)
        assert request_id


@pytest.mark.allow_server_errors(503)
def test_copy_from_an_object_whose_data_is_gone_creates_nothing(server, s3, bucket) -> None:
    s3.put_object(Bucket=bucket, Key="lost-source", Body=os.urandom(300_000))
    _drop_data(server, bucket, "lost-source")
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=bucket, Key="copy", CopySource={"Bucket": bucket, "Key": "lost-source"})
    assert _error(excinfo)[:2] == ("ServiceUnavailable", 503)
    with pytest.raises(ClientError) as missing:
        s3.head_object(Bucket=bucket, Key="copy")
    assert missing.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
