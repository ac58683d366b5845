import base64
import calendar
import hashlib
import hmac
import time
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth, S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from multidict import CIMultiDict

from gateway.s3 import errors, sigv2, sigv4
from gateway.s3.accounts import AccountStore
from gateway.s3.auth import Authenticator

EXAMPLE_AKID = "AKIAIOSFODNN7EXAMPLE"
EXAMPLE_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
EMPTY = hashlib.sha256(b"").hexdigest()
T_2013 = float(calendar.timegm((2013, 5, 24, 0, 0, 0)))


def example_store() -> AccountStore:
    return AccountStore.single(EXAMPLE_AKID, EXAMPLE_SECRET, name="Example")


def authenticator(now: float = T_2013) -> Authenticator:
    return Authenticator(example_store(), clock=lambda: now)


# --- the generic aws-sig-v4-test-suite (service "service", 2015-08-30), pinned at the function level ---

SUITE_SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
SUITE_SCOPE = "20150830/us-east-1/service/aws4_request"
HOST = ("host", "example.amazonaws.com")
STAMP = ("x-amz-date", "20150830T123600Z")
SUITE = [
    (
        "get-vanilla",
        "GET",
        "/",
        "",
        [HOST, STAMP],
        "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
    ),
    (
        "post-vanilla",
        "POST",
        "/",
        "",
        [HOST, STAMP],
        "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b",
    ),
    (
        "get-vanilla-query-order-key-case",
        "GET",
        "/",
        "Param2=value2&Param1=value1",
        [HOST, STAMP],
        "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500",
    ),
    (
        "get-vanilla-query-unreserved",
        "GET",
        "/",
        "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz="
        "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        [HOST, STAMP],
        "9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197",
    ),
    (
        "get-vanilla-utf8-query",
        "GET",
        "/",
        "%E1%88%B4=bar",
        [HOST, STAMP],
        "2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04",
    ),
    (
        "get-header-key-duplicate",
        "GET",
        "/",
        "",
        [HOST, ("my-header1", "value2"), ("my-header1", "value2"), ("my-header1", "value1"), STAMP],
        "c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea",
    ),
    (
        "get-header-value-order",
        "GET",
        "/",
        "",
        [
            HOST,
            ("my-header1", "value4"),
            ("my-header1", "value1"),
            ("my-header1", "value3"),
            ("my-header1", "value2"),
            STAMP,
        ],
        "08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01",
    ),
    (
        "get-header-value-trim",
        "GET",
        "/",
        "",
        [HOST, ("my-header1", " value1"), ("my-header2", ' "a   b   c"'), STAMP],
        "acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736",
    ),
    (
        "get-unreserved",
        "GET",
        "/-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
        "",
        [HOST, STAMP],
        "07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f",
    ),
    (
        "get-utf8",
        "GET",
        "/%E1%88%B4",
        "",
        [HOST, STAMP],
        "8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85",
    ),
    (
        "get-space-unnormalized",
        "GET",
        "/example%20space/",
        "",
        [HOST, STAMP],
        "652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741",
    ),
    (
        "get-slashes-unnormalized",
        "GET",
        "//example//",
        "",
        [HOST, STAMP],
        "87cca117541a147f6df867677d98a7d80dff226d2bfca9e4ffa899665623c7e5",
    ),
]


@pytest.mark.parametrize(
    ("name", "method", "path", "query", "headers", "signature"), SUITE, ids=[v[0] for v in SUITE]
)
def test_aws_sigv4_test_suite(name, method, path, query, headers, signature):
    header_map = CIMultiDict(headers)
    signed = sorted({name for name, _ in headers})
    canonical = sigv4.canonical_request(
        method,
        sigv4.canonical_uri(path),
        sigv4.canonical_query(sigv4.parse_raw_query(query)),
        header_map,
        signed,
        EMPTY,
    )
    key = sigv4.signing_key(SUITE_SECRET, "20150830", "us-east-1", "service")
    assert sigv4.sign(key, sigv4.string_to_sign("20150830T123600Z", SUITE_SCOPE, canonical)) == signature


def test_aws_sigv4_test_suite_post_x_www_form_urlencoded():
    headers = CIMultiDict([("content-type", "application/x-www-form-urlencoded"), HOST, STAMP])
    canonical = sigv4.canonical_request(
        "POST",
        "/",
        "",
        headers,
        ["content-type", "host", "x-amz-date"],
        hashlib.sha256(b"Param1=value1").hexdigest(),
    )
    key = sigv4.signing_key(SUITE_SECRET, "20150830", "us-east-1", "service")
    signature = sigv4.sign(key, sigv4.string_to_sign("20150830T123600Z", SUITE_SCOPE, canonical))
    assert signature == "ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"


# --- the S3 API reference examples ("Transferring Payload in a Single Chunk" and "in Multiple Chunks") ---


def s3_example_headers(signed_headers: str, signature: str, **extra: str) -> CIMultiDict:
    headers = CIMultiDict(
        {
            "Host": "examplebucket.s3.amazonaws.com",
            "x-amz-date": "20130524T000000Z",
            "Authorization": f"AWS4-HMAC-SHA256 Credential={EXAMPLE_AKID}/20130524/us-east-1/s3/aws4_request,"
            f"SignedHeaders={signed_headers},Signature={signature}",
        }
    )
    for name, value in extra.items():
        headers[name.replace("_", "-")] = value
    return headers


def test_s3_example_get_object_with_range():
    headers = s3_example_headers(
        "host;range;x-amz-content-sha256;x-amz-date",
        "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
        Range="bytes=0-9",
        x_amz_content_sha256=EMPTY,
    )
    result = authenticator().authenticate("GET", "/test.txt", "", headers)
    assert result.principal.access_key == EXAMPLE_AKID
    assert result.principal.account.name == "Example"
    assert result.payload.mode == "sha256"
    assert result.payload.expected_sha256 == EMPTY
    assert result.region == "us-east-1"


def test_s3_example_put_object():
    body_hash = hashlib.sha256(b"Welcome to Amazon S3.").hexdigest()
    assert body_hash == "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072"
    headers = s3_example_headers(
        "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
        "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        Date="Fri, 24 May 2013 00:00:00 GMT",
        x_amz_storage_class="REDUCED_REDUNDANCY",
        x_amz_content_sha256=body_hash,
    )
    result = authenticator().authenticate("PUT", "/test%24file.text", "", headers)
    assert result.payload.expected_sha256 == body_hash


def test_s3_example_get_bucket_lifecycle():
    headers = s3_example_headers(
        "host;x-amz-content-sha256;x-amz-date",
        "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
        x_amz_content_sha256=EMPTY,
    )
    authenticator().authenticate("GET", "/", "lifecycle", headers)


def test_s3_example_list_objects():
    headers = s3_example_headers(
        "host;x-amz-content-sha256;x-amz-date",
        "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7",
        x_amz_content_sha256=EMPTY,
    )
    authenticator().authenticate("GET", "/", "max-keys=2&prefix=J", headers)
    with pytest.raises(errors.SignatureDoesNotMatch):
        authenticator().authenticate("GET", "/", "max-keys=3&prefix=J", headers)


SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"


def chunked_example_headers() -> CIMultiDict:
    return CIMultiDict(
        {
            "Host": "s3.amazonaws.com",
            "x-amz-date": "20130524T000000Z",
            "x-amz-storage-class": "REDUCED_REDUNDANCY",
            "Authorization": f"AWS4-HMAC-SHA256 Credential={EXAMPLE_AKID}/20130524/us-east-1/s3/aws4_request,"
            "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
            f"x-amz-decoded-content-length;x-amz-storage-class,Signature={SEED}",
            "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
            "Content-Encoding": "aws-chunked",
            "x-amz-decoded-content-length": "66560",
            "Content-Length": "66824",
        }
    )


def test_s3_example_chunked_upload_seed_and_chunk_signatures():
    result = authenticator().authenticate(
        "PUT", "/examplebucket/chunkObject.txt", "", chunked_example_headers()
    )
    assert result.payload.mode == "streaming-signed"
    signing = result.payload.chunk_signing
    assert signing.seed_signature == SEED
    assert signing.scope == "20130524/us-east-1/s3/aws4_request"
    signer = sigv4.ChunkSigner(signing)
    expected = [
        (b"a" * 65536, "ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648"),
        (b"a" * 1024, "0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497"),
        (b"", "b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9"),
    ]
    for chunk, signature in expected:
        assert signer.chunk_signature(hashlib.sha256(chunk).hexdigest()) == signature
        signer.accept(signature)


# --- error cases ---


def test_unknown_access_key_is_invalid_access_key_id():
    headers = chunked_example_headers()
    headers["Authorization"] = headers["Authorization"].replace(EXAMPLE_AKID, "AKIDUNKNOWN")
    with pytest.raises(errors.InvalidAccessKeyId):
        authenticator().authenticate("PUT", "/examplebucket/chunkObject.txt", "", headers)


def test_wrong_secret_is_signature_does_not_match():
    auth = Authenticator(AccountStore.single(EXAMPLE_AKID, "other-secret"), clock=lambda: T_2013)
    with pytest.raises(errors.SignatureDoesNotMatch):
        auth.authenticate("PUT", "/examplebucket/chunkObject.txt", "", chunked_example_headers())


def test_tampered_signed_header_is_signature_does_not_match():
    headers = chunked_example_headers()
    headers["x-amz-storage-class"] = "STANDARD"
    with pytest.raises(errors.SignatureDoesNotMatch):
        authenticator().authenticate("PUT", "/examplebucket/chunkObject.txt", "", headers)


@pytest.mark.parametrize("offset", [-16 * 60, 16 * 60])
def test_clock_skew_over_15_minutes_is_rejected(offset):
    with pytest.raises(errors.RequestTimeTooSkewed):
        authenticator(T_2013 + offset).authenticate(
            "PUT", "/examplebucket/chunkObject.txt", "", chunked_example_headers()
        )


def test_clock_skew_under_15_minutes_is_accepted():
    authenticator(T_2013 + 14 * 60).authenticate(
        "PUT", "/examplebucket/chunkObject.txt", "", chunked_example_headers()
    )


@pytest.mark.parametrize(
    ("authorization", "error"),
    [
        (
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request",
            errors.AuthorizationHeaderMalformed,
        ),
        (
            "AWS4-HMAC-SHA256 Credential=x, SignedHeaders=host, Signature=00",
            errors.AuthorizationHeaderMalformed,
        ),
        (
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130525/us-east-1/s3/aws4_request, SignedHeaders=host, Signature=00",
            errors.AuthorizationHeaderMalformed,
        ),
        ("Bearer abc", errors.InvalidArgument),
        ("AWS missingcolon", errors.InvalidArgument),
    ],
)
def test_malformed_authorization(authorization, error):
    headers = CIMultiDict(
        {"x-amz-date": "20130524T000000Z", "x-amz-content-sha256": EMPTY, "Authorization": authorization}
    )
    with pytest.raises(error):
        authenticator().authenticate("GET", "/b", "", headers)


def test_missing_date_is_access_denied():
    headers = s3_example_headers("host", "00", x_amz_content_sha256=EMPTY)
    del headers["x-amz-date"]
    with pytest.raises(errors.AccessDenied):
        authenticator().authenticate("GET", "/", "", headers)


def test_bad_content_sha256_value_is_invalid_argument():
    headers = s3_example_headers(
        "host;x-amz-content-sha256;x-amz-date", "00", x_amz_content_sha256="nonsense"
    )
    with pytest.raises((errors.InvalidArgument, errors.SignatureDoesNotMatch)):
        authenticator().authenticate("GET", "/", "", headers)


def test_no_auth_is_anonymous():
    result = authenticator().authenticate("GET", "/b/k", "", CIMultiDict({"Host": "x"}))
    assert result.principal.is_anonymous
    assert result.payload.mode == "unsigned"
    assert result.signature_version is None


def test_two_auth_mechanisms_are_rejected():
    headers = CIMultiDict({"Authorization": "AWS a:b"})
    with pytest.raises(errors.InvalidArgument):
        authenticator().authenticate(
            "GET", "/b/k", "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=x", headers
        )


# --- round trips against botocore's own signers ---

KEYS = [
    "plain.txt",
    "with space.txt",
    "plus+sign",
    "percent%41literal",
    "unicodé/日本語/ключ",
    "a//double//slash",
    "trailing/",
    "/leading",
    "tilde~and*star!'()",
    "semi;colon,comma=equals&amp$dollar@at",
    "question?mark#hash",
    'quote"back\\slash',
]
CREDS = Credentials("accessKey1", "verySecretKey1")


def botocore_request(
    method: str, key: str, query: str = "", virtual: bool = False, **headers: str
) -> AWSRequest:
    path = "/" + quote(key, safe="/~")
    if virtual:
        url = f"http://bkt.s3.example.com:8000{path}"
    else:
        url = f"http://127.0.0.1:8000/bkt{path}"
    if query:
        url += "?" + query
    request = AWSRequest(
        method=method, url=url, headers=dict(headers), data=b"hello" if method == "PUT" else b""
    )
    if virtual:
        request.auth_path = f"/bkt{path}"
    return request


def check(request: AWSRequest, virtual_host_bucket: str | None = None):
    prepared = request.prepare()
    split = urlsplit(prepared.url)
    headers = CIMultiDict(
        (name, value if isinstance(value, str) else value.decode())
        for name, value in prepared.headers.items()
    )
    headers.setdefault("Host", split.netloc)
    auth = Authenticator(
        AccountStore.from_file("gateway/s3/default_authdata.json"), regions=lambda: ("us-east-1", "eu-west-3")
    )
    return auth.authenticate(
        prepared.method, split.path, split.query, headers, virtual_host_bucket=virtual_host_bucket
    )


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    "query", ["", "tagging", "uploadId=abc%2Bdef&partNumber=2", "prefix=a%20b&delimiter=%2F"]
)
def test_botocore_sigv4_header_round_trip(key, query):
    request = botocore_request(
        "PUT", key, query, **{"Content-Type": "text/plain", "x-amz-meta-note": "  a  b  "}
    )
    S3SigV4Auth(CREDS, "s3", "eu-west-3").add_auth(request)
    result = check(request)
    assert result.principal.access_key == "accessKey1"
    assert result.region == "eu-west-3"
    assert result.payload.mode == "sha256"
    assert result.payload.expected_sha256 == hashlib.sha256(b"hello").hexdigest()


@pytest.mark.parametrize("key", KEYS)
def test_botocore_sigv4_presigned_round_trip(key):
    request = botocore_request("GET", key, "response-content-type=text%2Fplain")
    S3SigV4QueryAuth(CREDS, "s3", "us-east-1", expires=300).add_auth(request)
    result = check(request)
    assert result.presigned
    assert result.payload.mode == "unsigned"


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize("virtual", [False, True])
def test_botocore_sigv2_header_round_trip(key, virtual):
    request = botocore_request(
        "PUT", key, "acl", virtual=virtual, **{"Content-Type": "text/plain", "x-amz-acl": "private"}
    )
    HmacV1Auth(CREDS).add_auth(request)
    result = check(request, "bkt" if virtual else None)
    assert result.signature_version == "v2"
    assert result.principal.account.name == "Bart"


@pytest.mark.parametrize("key", KEYS)
def test_botocore_sigv2_presigned_round_trip(key):
    request = botocore_request("GET", key, "versionId=v1", **{"x-amz-request-payer": "requester"})
    HmacV1QueryAuth(CREDS, expires=300).add_auth(request)
    result = check(request)
    assert result.signature_version == "v2"
    assert result.presigned


def test_presigned_url_expires():
    request = botocore_request("GET", "k")
    S3SigV4QueryAuth(CREDS, "s3", "us-east-1", expires=60).add_auth(request)
    prepared = request.prepare()
    split = urlsplit(prepared.url)
    auth = Authenticator(
        AccountStore.from_file("gateway/s3/default_authdata.json"), clock=lambda: time.time() + 120
    )
    with pytest.raises(errors.AccessDenied, match="expired"):
        auth.authenticate("GET", split.path, split.query, CIMultiDict(prepared.headers.items()))


@pytest.mark.parametrize("expires", ["0", "604801", "abc"])
def test_presigned_expiry_bounds(expires):
    request = botocore_request("GET", "k")
    S3SigV4QueryAuth(CREDS, "s3", "us-east-1", expires=60).add_auth(request)
    split = urlsplit(request.prepare().url)
    query = split.query.replace("X-Amz-Expires=60", f"X-Amz-Expires={expires}")
    auth = Authenticator(AccountStore.from_file("gateway/s3/default_authdata.json"))
    with pytest.raises(errors.AuthorizationQueryParametersError):
        auth.authenticate("GET", split.path, query, CIMultiDict({"Host": split.netloc}))


def test_sigv2_presigned_expired():
    request = botocore_request("GET", "k")
    HmacV1QueryAuth(CREDS, expires=60).add_auth(request)
    split = urlsplit(request.prepare().url)
    auth = Authenticator(
        AccountStore.from_file("gateway/s3/default_authdata.json"), clock=lambda: time.time() + 120
    )
    with pytest.raises(errors.AccessDenied, match="expired"):
        auth.authenticate("GET", split.path, split.query, CIMultiDict({"Host": split.netloc}))


def test_sigv2_tampered_amz_header_fails():
    request = botocore_request("PUT", "k", **{"x-amz-acl": "private"})
    HmacV1Auth(CREDS).add_auth(request)
    prepared = request.prepare()
    split = urlsplit(prepared.url)
    headers = CIMultiDict(prepared.headers.items())
    headers["x-amz-acl"] = "public-read"
    auth = Authenticator(AccountStore.from_file("gateway/s3/default_authdata.json"))
    with pytest.raises(errors.SignatureDoesNotMatch):
        auth.authenticate("PUT", split.path, split.query, headers)


def test_signatures_cover_header_bytes_that_are_not_utf8_as_received() -> None:
    # aiohttp hands the latin-1 byte 0xE9 over as the surrogate U+DCE9.
    received = "x-amz-meta-x:caf" + b"\xe9".decode("utf-8", "surrogateescape") + "\n"
    wire = b"x-amz-meta-x:caf\xe9\n"
    to_sign = sigv4.string_to_sign("20261201T000000Z", "20261201/us-east-1/s3/aws4_request", received)
    assert to_sign.endswith(hashlib.sha256(wire).hexdigest())
    expected = base64.b64encode(hmac.new(b"secret", wire, hashlib.sha1).digest()).decode()
    assert sigv2.sign("secret", received) == expected


# --- hardening: signed headers, credential scope, odd signatures ---


def prepared_headers(request: AWSRequest) -> tuple[str, str, CIMultiDict]:
    prepared = request.prepare()
    split = urlsplit(prepared.url)
    headers = CIMultiDict(
        (name, value if isinstance(value, str) else value.decode())
        for name, value in prepared.headers.items()
    )
    headers.setdefault("Host", split.netloc)
    return split.path, split.query, headers


class NoHostSigV4(S3SigV4Auth):
    def headers_to_sign(self, request):
        headers = super().headers_to_sign(request)
        del headers["host"]
        return headers


def default_authenticator() -> Authenticator:
    return Authenticator(AccountStore.from_file("gateway/s3/default_authdata.json"))


def test_header_signature_must_cover_host():
    request = botocore_request("DELETE", "k")
    NoHostSigV4(CREDS, "s3", "us-east-1").add_auth(request)
    path, query, headers = prepared_headers(request)
    with pytest.raises(errors.AccessDenied) as raised:
        default_authenticator().authenticate("DELETE", path, query, headers)
    assert raised.value.details == {"HeadersNotSigned": "host"}


def test_header_signature_must_cover_every_x_amz_header():
    request = botocore_request("PUT", "k")
    S3SigV4Auth(CREDS, "s3", "us-east-1").add_auth(request)
    path, query, headers = prepared_headers(request)
    headers["x-amz-acl"] = "public-read"
    headers["X-Amz-Meta-Extra"] = "1"
    with pytest.raises(errors.AccessDenied) as raised:
        default_authenticator().authenticate("PUT", path, query, headers)
    assert raised.value.details == {"HeadersNotSigned": "x-amz-acl, x-amz-meta-extra"}


def test_presigned_url_must_cover_x_amz_headers_sent_with_it():
    request = botocore_request("GET", "k")
    S3SigV4QueryAuth(CREDS, "s3", "us-east-1", expires=300).add_auth(request)
    split = urlsplit(request.prepare().url)
    assert default_authenticator().authenticate(
        "GET", split.path, split.query, CIMultiDict({"Host": split.netloc})
    )
    headers = CIMultiDict({"Host": split.netloc, "x-amz-server-side-encryption-customer-key": "x"})
    with pytest.raises(errors.AccessDenied, match="not signed"):
        default_authenticator().authenticate("GET", split.path, split.query, headers)


@pytest.mark.parametrize(
    ("region", "service", "message"),
    [
        ("eu-west-9", "s3", "the region 'eu-west-9' is wrong; expecting 'us-east-1'"),
        ("us-east-1", "iam", "incorrect service 'iam'. This endpoint belongs to 's3'."),
    ],
)
def test_header_credential_scope_must_be_s3_in_a_served_region(region, service, message):
    request = botocore_request("GET", "k")
    S3SigV4Auth(CREDS, service, region).add_auth(request)
    path, query, headers = prepared_headers(request)
    with pytest.raises(errors.AuthorizationHeaderMalformed) as raised:
        default_authenticator().authenticate("GET", path, query, headers)
    assert raised.value.message == "The authorization header is malformed; " + message


@pytest.mark.parametrize(
    ("region", "service", "message"),
    [
        ("eu-west-9", "s3", "the region 'eu-west-9' is wrong; expecting 'us-east-1'"),
        ("us-east-1", "iam", "incorrect service 'iam'. This endpoint belongs to 's3'."),
    ],
)
def test_presigned_credential_scope_must_be_s3_in_a_served_region(region, service, message):
    request = botocore_request("GET", "k")
    S3SigV4QueryAuth(CREDS, service, region, expires=300).add_auth(request)
    split = urlsplit(request.prepare().url)
    with pytest.raises(errors.AuthorizationQueryParametersError) as raised:
        default_authenticator().authenticate(
            "GET", split.path, split.query, CIMultiDict({"Host": split.netloc})
        )
    assert raised.value.message == "Error parsing the X-Amz-Credential parameter; " + message


def test_served_regions_come_from_the_callable_each_time():
    served = {"us-east-1"}
    auth = default_authenticator().serve_regions(lambda: served)
    request = botocore_request("GET", "k")
    S3SigV4Auth(CREDS, "s3", "ap-east-3").add_auth(request)
    path, query, headers = prepared_headers(request)
    with pytest.raises(errors.AuthorizationHeaderMalformed):
        auth.authenticate("GET", path, query, headers)
    served.add("ap-east-3")
    assert auth.authenticate("GET", path, query, headers).region == "ap-east-3"


@pytest.mark.parametrize("signature", ["é" * 64, "\udcff" * 64, "０" * 64, "00" * 31 + "é"])
def test_non_ascii_v4_signature_is_signature_does_not_match(signature):
    request = botocore_request("GET", "k")
    S3SigV4Auth(CREDS, "s3", "us-east-1").add_auth(request)
    path, query, headers = prepared_headers(request)
    authorization = headers["Authorization"]
    headers["Authorization"] = authorization[: authorization.index("Signature=") + 10] + signature
    with pytest.raises(errors.SignatureDoesNotMatch):
        default_authenticator().authenticate("GET", path, query, headers)


def test_non_ascii_v2_signature_is_signature_does_not_match():
    request = botocore_request("GET", "k")
    HmacV1Auth(CREDS).add_auth(request)
    path, query, headers = prepared_headers(request)
    headers["Authorization"] = "AWS accessKey1:ünïcode="
    with pytest.raises(errors.SignatureDoesNotMatch):
        default_authenticator().authenticate("GET", path, query, headers)


def test_signatures_equal_is_false_for_any_odd_value():
    assert sigv4.signatures_equal("ab", "ab")
    assert not sigv4.signatures_equal("ab", "aé")
    assert not sigv4.signatures_equal("ab", "\udcff")
    assert not sigv4.signatures_equal("a?", "a\u00e9")


@pytest.mark.parametrize("expires", ["-1", "", "١٢٠", "+60", " 60", "60 ", "6e2", "1" * 13])
def test_presigned_expires_must_be_plain_ascii_digits_in_range(expires):
    request = botocore_request("GET", "k")
    S3SigV4QueryAuth(CREDS, "s3", "us-east-1", expires=60).add_auth(request)
    split = urlsplit(request.prepare().url)
    query = split.query.replace("X-Amz-Expires=60", f"X-Amz-Expires={quote(expires)}")
    with pytest.raises(errors.AuthorizationQueryParametersError):
        default_authenticator().authenticate("GET", split.path, query, CIMultiDict({"Host": split.netloc}))


def test_expired_presigned_url_is_denied_before_its_signature_or_key_is_checked():
    request = botocore_request("GET", "k")
    S3SigV4QueryAuth(Credentials("unknownKey", "wrong"), "s3", "us-east-1", expires=60).add_auth(request)
    split = urlsplit(request.prepare().url)
    auth = Authenticator(
        AccountStore.from_file("gateway/s3/default_authdata.json"), clock=lambda: time.time() + 120
    )
    with pytest.raises(errors.AccessDenied, match="Request has expired"):
        auth.authenticate("GET", split.path, split.query, CIMultiDict({"Host": split.netloc}))
