import pytest
from multidict import CIMultiDict, MultiDict

from gateway.s3 import errors
from gateway.s3.router import bucket_from_host, route

ENDPOINTS = ("s3.amazonaws.com", "localhost", "s3.example.com")
COPY = {"x-amz-copy-source": "/src/key"}


def parse_query(raw: str) -> MultiDict:
    from urllib.parse import parse_qsl

    return MultiDict(parse_qsl(raw, keep_blank_values=True))


# (method, path?query, headers, operation, bucket, key, permission) — shapes from the AWS S3 API reference.
SHAPES = [
    ("GET", "/", None, "ListBuckets", None, None, "s3:ListAllMyBuckets"),
    ("PUT", "/bkt", None, "CreateBucket", "bkt", None, "s3:CreateBucket"),
    ("HEAD", "/bkt", None, "HeadBucket", "bkt", None, "s3:ListBucket"),
    ("DELETE", "/bkt", None, "DeleteBucket", "bkt", None, "s3:DeleteBucket"),
    ("GET", "/bkt?location", None, "GetBucketLocation", "bkt", None, "s3:GetBucketLocation"),
    ("GET", "/bkt", None, "ListObjects", "bkt", None, "s3:ListBucket"),
    (
        "GET",
        "/bkt/?prefix=a&delimiter=/&marker=m&max-keys=5",
        None,
        "ListObjects",
        "bkt",
        None,
        "s3:ListBucket",
    ),
    ("GET", "/bkt?list-type=2&prefix=photos/", None, "ListObjectsV2", "bkt", None, "s3:ListBucket"),
    ("GET", "/bkt?list-type=1", None, "ListObjects", "bkt", None, "s3:ListBucket"),
    ("GET", "/bkt?versions&key-marker=a", None, "ListObjectVersions", "bkt", None, "s3:ListBucketVersions"),
    ("GET", "/bkt?uploads", None, "ListMultipartUploads", "bkt", None, "s3:ListBucketMultipartUploads"),
    ("GET", "/bkt?versioning", None, "GetBucketVersioning", "bkt", None, "s3:GetBucketVersioning"),
    ("PUT", "/bkt?versioning", None, "PutBucketVersioning", "bkt", None, "s3:PutBucketVersioning"),
    ("GET", "/bkt?acl", None, "GetBucketAcl", "bkt", None, "s3:GetBucketAcl"),
    ("PUT", "/bkt?acl", None, "PutBucketAcl", "bkt", None, "s3:PutBucketAcl"),
    ("GET", "/bkt?tagging", None, "GetBucketTagging", "bkt", None, "s3:GetBucketTagging"),
    ("PUT", "/bkt?tagging", None, "PutBucketTagging", "bkt", None, "s3:PutBucketTagging"),
    ("DELETE", "/bkt?tagging", None, "DeleteBucketTagging", "bkt", None, "s3:PutBucketTagging"),
    ("GET", "/bkt?policy", None, "GetBucketPolicy", "bkt", None, "s3:GetBucketPolicy"),
    ("PUT", "/bkt?policy", None, "PutBucketPolicy", "bkt", None, "s3:PutBucketPolicy"),
    ("DELETE", "/bkt?policy", None, "DeleteBucketPolicy", "bkt", None, "s3:DeleteBucketPolicy"),
    ("GET", "/bkt?cors", None, "GetBucketCors", "bkt", None, "s3:GetBucketCORS"),
    ("PUT", "/bkt?cors", None, "PutBucketCors", "bkt", None, "s3:PutBucketCORS"),
    ("DELETE", "/bkt?cors", None, "DeleteBucketCors", "bkt", None, "s3:PutBucketCORS"),
    ("GET", "/bkt?website", None, "GetBucketWebsite", "bkt", None, "s3:GetBucketWebsite"),
    ("PUT", "/bkt?website", None, "PutBucketWebsite", "bkt", None, "s3:PutBucketWebsite"),
    ("DELETE", "/bkt?website", None, "DeleteBucketWebsite", "bkt", None, "s3:DeleteBucketWebsite"),
    (
        "GET",
        "/bkt?lifecycle",
        None,
        "GetBucketLifecycleConfiguration",
        "bkt",
        None,
        "s3:GetLifecycleConfiguration",
    ),
    (
        "PUT",
        "/bkt?lifecycle",
        None,
        "PutBucketLifecycleConfiguration",
        "bkt",
        None,
        "s3:PutLifecycleConfiguration",
    ),
    ("DELETE", "/bkt?lifecycle", None, "DeleteBucketLifecycle", "bkt", None, "s3:PutLifecycleConfiguration"),
    ("GET", "/bkt?encryption", None, "GetBucketEncryption", "bkt", None, "s3:GetEncryptionConfiguration"),
    ("PUT", "/bkt?encryption", None, "PutBucketEncryption", "bkt", None, "s3:PutEncryptionConfiguration"),
    (
        "DELETE",
        "/bkt?encryption",
        None,
        "DeleteBucketEncryption",
        "bkt",
        None,
        "s3:PutEncryptionConfiguration",
    ),
    (
        "GET",
        "/bkt?object-lock",
        None,
        "GetObjectLockConfiguration",
        "bkt",
        None,
        "s3:GetBucketObjectLockConfiguration",
    ),
    (
        "PUT",
        "/bkt?object-lock",
        None,
        "PutObjectLockConfiguration",
        "bkt",
        None,
        "s3:PutBucketObjectLockConfiguration",
    ),
    ("GET", "/bkt?replication", None, "GetBucketReplication", "bkt", None, "s3:GetReplicationConfiguration"),
    ("PUT", "/bkt?replication", None, "PutBucketReplication", "bkt", None, "s3:PutReplicationConfiguration"),
    (
        "DELETE",
        "/bkt?replication",
        None,
        "DeleteBucketReplication",
        "bkt",
        None,
        "s3:PutReplicationConfiguration",
    ),
    ("POST", "/bkt?delete", None, "DeleteObjects", "bkt", None, "s3:DeleteObject"),
    ("POST", "/bkt", None, "PostObject", "bkt", None, "s3:PutObject"),
    ("OPTIONS", "/bkt/obj", None, "Options", "bkt", "obj", ""),
    ("PUT", "/bkt/obj", None, "PutObject", "bkt", "obj", "s3:PutObject"),
    ("PUT", "/bkt/obj", COPY, "CopyObject", "bkt", "obj", "s3:PutObject"),
    ("GET", "/bkt/obj", None, "GetObject", "bkt", "obj", "s3:GetObject"),
    (
        "GET",
        "/bkt/obj?response-content-type=text/plain&x-id=GetObject",
        None,
        "GetObject",
        "bkt",
        "obj",
        "s3:GetObject",
    ),
    ("GET", "/bkt/obj?versionId=v1", None, "GetObject", "bkt", "obj", "s3:GetObjectVersion"),
    ("HEAD", "/bkt/obj", None, "HeadObject", "bkt", "obj", "s3:GetObject"),
    ("DELETE", "/bkt/obj", None, "DeleteObject", "bkt", "obj", "s3:DeleteObject"),
    ("DELETE", "/bkt/obj?versionId=v1", None, "DeleteObject", "bkt", "obj", "s3:DeleteObjectVersion"),
    ("POST", "/bkt/obj?uploads", None, "CreateMultipartUpload", "bkt", "obj", "s3:PutObject"),
    ("PUT", "/bkt/obj?partNumber=1&uploadId=U", None, "UploadPart", "bkt", "obj", "s3:PutObject"),
    ("PUT", "/bkt/obj?partNumber=2&uploadId=U", COPY, "UploadPartCopy", "bkt", "obj", "s3:PutObject"),
    ("POST", "/bkt/obj?uploadId=U", None, "CompleteMultipartUpload", "bkt", "obj", "s3:PutObject"),
    ("DELETE", "/bkt/obj?uploadId=U", None, "AbortMultipartUpload", "bkt", "obj", "s3:AbortMultipartUpload"),
    (
        "GET",
        "/bkt/obj?uploadId=U&max-parts=2",
        None,
        "ListParts",
        "bkt",
        "obj",
        "s3:ListMultipartUploadParts",
    ),
    ("GET", "/bkt/obj?tagging", None, "GetObjectTagging", "bkt", "obj", "s3:GetObjectTagging"),
    ("PUT", "/bkt/obj?tagging", None, "PutObjectTagging", "bkt", "obj", "s3:PutObjectTagging"),
    ("DELETE", "/bkt/obj?tagging", None, "DeleteObjectTagging", "bkt", "obj", "s3:DeleteObjectTagging"),
    (
        "GET",
        "/bkt/obj?tagging&versionId=v",
        None,
        "GetObjectTagging",
        "bkt",
        "obj",
        "s3:GetObjectVersionTagging",
    ),
    ("GET", "/bkt/obj?acl", None, "GetObjectAcl", "bkt", "obj", "s3:GetObjectAcl"),
    ("PUT", "/bkt/obj?acl", None, "PutObjectAcl", "bkt", "obj", "s3:PutObjectAcl"),
    ("GET", "/bkt/obj?retention", None, "GetObjectRetention", "bkt", "obj", "s3:GetObjectRetention"),
    ("PUT", "/bkt/obj?legal-hold", None, "PutObjectLegalHold", "bkt", "obj", "s3:PutObjectLegalHold"),
    ("POST", "/bkt/obj?restore", None, "RestoreObject", "bkt", "obj", "s3:RestoreObject"),
]


@pytest.mark.parametrize(("method", "target", "headers", "operation", "bucket", "key", "permission"), SHAPES)
def test_path_style_request_shapes(method, target, headers, operation, bucket, key, permission):
    path, _, query = target.partition("?")
    endpoint = route(method, path, parse_query(query), "localhost:8000", ENDPOINTS, headers)
    assert (endpoint.operation, endpoint.bucket, endpoint.key, endpoint.permission) == (
        operation,
        bucket,
        key,
        permission,
    )
    assert not endpoint.virtual_host


@pytest.mark.parametrize(("method", "target", "headers", "operation", "bucket", "key", "permission"), SHAPES)
def test_virtual_hosted_style_gives_the_same_operation(
    method, target, headers, operation, bucket, key, permission
):
    path, _, query = target.partition("?")
    if bucket is not None:
        path = path[len("/" + bucket) :] or "/"
        host = f"{bucket}.s3.amazonaws.com"
    else:
        host = "s3.amazonaws.com"
    endpoint = route(method, path, parse_query(query), host, ENDPOINTS, headers)
    assert (endpoint.operation, endpoint.bucket, endpoint.key) == (operation, bucket, key)
    assert endpoint.virtual_host == (bucket is not None)


def test_upload_part_carries_upload_id_and_part_number():
    endpoint = route("PUT", "/b/k", parse_query("partNumber=7&uploadId=abc%2Bdef"), None, ENDPOINTS)
    assert endpoint.upload_id == "abc+def"
    assert endpoint.part_number == 7


@pytest.mark.parametrize("value", ["0", "10001", "x", "-1"])
def test_bad_part_number_is_invalid_argument(value):
    with pytest.raises(errors.InvalidArgument):
        route("PUT", "/b/k", parse_query(f"partNumber={value}&uploadId=u"), None, ENDPOINTS)


@pytest.mark.parametrize(
    ("raw_path", "key"),
    [
        ("/b/my%20key", "my key"),
        ("/b/a+b", "a+b"),
        ("/b/100%25", "100%"),
        ("/b/%2541", "%41"),  # decoded exactly once
        ("/b/caf%C3%A9/%E2%82%AC", "café/€"),
        ("/b//leading", "/leading"),
        ("/b/a//b", "a//b"),
        ("/b/dir/", "dir/"),
        ("/b/a%3Fb", "a?b"),
        ("/b/%23hash", "#hash"),
        ("/b/k?uploads", "k"),  # aiohttp's raw_path still carries the query
    ],
)
def test_key_is_decoded_exactly_once(raw_path, key):
    assert route("GET", raw_path, {}, "127.0.0.1:8000", ENDPOINTS).key == key


def test_virtual_hosted_key_keeps_leading_slashes():
    endpoint = route("GET", "//x/", {}, "bkt.s3.example.com", ENDPOINTS)
    assert (endpoint.bucket, endpoint.key) == ("bkt", "/x/")


def test_invalid_utf8_in_path_is_invalid_uri():
    with pytest.raises(errors.InvalidURI):
        route("GET", "/b/%FF", {}, None, ENDPOINTS)


@pytest.mark.parametrize(
    ("host", "bucket"),
    [
        ("bkt.s3.amazonaws.com", "bkt"),
        ("bkt.s3.amazonaws.com:8000", "bkt"),
        ("My.Dotted.Bucket.s3.example.com", "my.dotted.bucket"),
        ("b.localhost:8000", "b"),
        ("localhost:8000", None),
        ("s3.amazonaws.com", None),
        ("127.0.0.1:8000", None),
        ("[::1]:8000", None),
        ("10.0.0.1", None),
        ("unrelated.example.org", None),
        (None, None),
        ("", None),
    ],
)
def test_bucket_from_host(host, bucket):
    assert bucket_from_host(host, ENDPOINTS) == bucket


def test_longest_matching_endpoint_wins():
    assert bucket_from_host("b.s3.eu.example.com", ["example.com", "s3.eu.example.com"]) == "b"


@pytest.mark.parametrize(
    ("method", "target", "error"),
    [
        ("PUT", "/", errors.MethodNotAllowed),
        ("DELETE", "/", errors.MethodNotAllowed),
        ("PATCH", "/b/k", errors.MethodNotAllowed),
        ("FOO", "/b", errors.MethodNotAllowed),
        ("GET", "/b?delete", errors.MethodNotAllowed),
        ("PUT", "/b/k?uploads", errors.MethodNotAllowed),
        ("DELETE", "/b?versioning", errors.MethodNotAllowed),
        ("POST", "/b/k", errors.MethodNotAllowed),
        ("POST", "/b?versioning", errors.MethodNotAllowed),
        ("DELETE", "/b?location", errors.MethodNotAllowed),
        ("DELETE", "/b/k?acl", errors.MethodNotAllowed),
        ("PUT", "/b/k?select", errors.MethodNotAllowed),
        ("GET", "/b/k?torrent", None),
    ],
)
def test_unroutable_shapes_raise_s3_errors(method, target, error):
    path, _, query = target.partition("?")
    if error is None:
        route(method, path, parse_query(query), None, ENDPOINTS)
        return
    with pytest.raises(error):
        route(method, path, parse_query(query), None, ENDPOINTS)


def test_headers_lookup_is_case_insensitive_with_cimultidict():
    headers = CIMultiDict({"X-Amz-Copy-Source": "src/k"})
    assert route("PUT", "/b/k", {}, None, ENDPOINTS, headers).operation == "CopyObject"


def test_empty_copy_source_is_a_plain_put():
    assert route("PUT", "/b/k", {}, None, ENDPOINTS, {"x-amz-copy-source": ""}).operation == "PutObject"
