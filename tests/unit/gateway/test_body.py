import asyncio
import base64
import calendar
import hashlib
import io
import zlib

import boto3
import pytest
from aiohttp import StreamReader, web
from aiohttp.base_protocol import BaseProtocol
from aiohttp.test_utils import TestServer
from botocore.config import Config
from multidict import CIMultiDict

from gateway.s3 import errors, sigv4
from gateway.s3.accounts import AccountStore
from gateway.s3.auth import Authenticator, PayloadSpec
from gateway.s3.body import PIECE_SIZE, PayloadTrailers, iter_payload

EXAMPLE_AKID = "AKIAIOSFODNN7EXAMPLE"
T_2013 = float(calendar.timegm((2013, 5, 24, 0, 0, 0)))
SEED = "4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9"


def authenticator() -> Authenticator:
    store = AccountStore.single(EXAMPLE_AKID, "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    return Authenticator(store, clock=lambda: T_2013)


def chunked_example_headers() -> CIMultiDict:
    """The request of the S3 API reference's "Transferring Payload in Multiple Chunks" example."""
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


def reader(data: bytes, step: int = 7001) -> StreamReader:
    loop = asyncio.get_running_loop()
    stream = StreamReader(
        BaseProtocol(loop), 2**26, loop=loop
    )  # limit above the test bodies: no flow control
    for start in range(0, len(data), step):
        stream.feed_data(data[start : start + step])
    stream.feed_eof()
    return stream


async def collect(stream, payload, headers, trailers=None) -> list[bytes]:
    return [piece async for piece in iter_payload(stream, payload, headers, trailers)]


async def test_plain_body_is_read_in_pieces_of_about_one_mib():
    body = bytes(range(256)) * (3 * PIECE_SIZE // 256 + 100)
    pieces = await collect(reader(body), PayloadSpec(), {"content-length": str(len(body))})
    assert b"".join(pieces) == body
    assert all(len(piece) == PIECE_SIZE for piece in pieces[:-1])
    assert len(pieces) == 4


async def test_plain_body_stops_at_content_length():
    pieces = await collect(reader(b"hello world"), PayloadSpec(), {"content-length": "5"})
    assert pieces == [b"hello"]


async def test_short_body_is_incomplete():
    with pytest.raises(errors.IncompleteBody):
        await collect(reader(b"hello"), PayloadSpec(), {"content-length": "10"})


async def test_body_without_length_is_read_to_the_end():
    assert b"".join(await collect(reader(b"x" * 3000000), PayloadSpec(), {})) == b"x" * 3000000


async def test_sha256_payload_verified():
    body = b"Welcome to Amazon S3." * 100000
    spec = PayloadSpec("sha256", expected_sha256=hashlib.sha256(body).hexdigest())
    assert b"".join(await collect(reader(body), spec, {"content-length": str(len(body))})) == body


async def test_sha256_mismatch_raises_before_the_iterator_ends():
    body = b"a" * (PIECE_SIZE + 10)
    spec = PayloadSpec("sha256", expected_sha256=hashlib.sha256(b"other").hexdigest())
    received = []
    with pytest.raises(errors.XAmzContentSHA256Mismatch):
        async for piece in iter_payload(reader(body), spec, {"content-length": str(len(body))}):
            received.append(piece)
    assert sum(map(len, received)) == PIECE_SIZE  # the tail was never handed out


AWS_CHUNKED_EXAMPLE = (
    b"10000;chunk-signature=ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648\r\n"
    + b"a" * 65536
    + b"\r\n400;chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497\r\n"
    + b"a" * 1024
    + b"\r\n0;chunk-signature=b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9\r\n\r\n"
)


async def test_aws_documented_signed_chunked_upload_decodes():
    headers = chunked_example_headers()
    assert len(AWS_CHUNKED_EXAMPLE) == 66824
    result = authenticator().authenticate("PUT", "/examplebucket/chunkObject.txt", "", headers)
    body = b"".join(await collect(reader(AWS_CHUNKED_EXAMPLE, step=1000), result.payload, headers))
    assert body == b"a" * 66560


@pytest.mark.parametrize(
    "tamper",
    [
        lambda b: b.replace(b"a" * 1024, b"a" * 1023 + b"b"),
        lambda b: b.replace(b"ad80c730", b"bd80c730"),
        lambda b: b.replace(b"0;chunk-signature=b6c6", b"0;chunk-signature=c6c6"),
        lambda b: b.replace(
            b";chunk-signature=0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497", b""
        ),
    ],
)
async def test_tampered_signed_chunk_is_rejected(tamper):
    headers = chunked_example_headers()
    result = authenticator().authenticate("PUT", "/examplebucket/chunkObject.txt", "", headers)
    with pytest.raises(errors.SignatureDoesNotMatch):
        await collect(reader(tamper(AWS_CHUNKED_EXAMPLE)), result.payload, headers)


async def test_truncated_chunked_body_is_incomplete():
    headers = chunked_example_headers()
    result = authenticator().authenticate("PUT", "/examplebucket/chunkObject.txt", "", headers)
    with pytest.raises(errors.IncompleteBody):
        await collect(reader(AWS_CHUNKED_EXAMPLE[:40000]), result.payload, headers)


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def unsigned_trailer_body(data: bytes, chunk: int, trailer: str) -> bytes:
    out = bytearray()
    for start in range(0, len(data), chunk):
        part = data[start : start + chunk]
        out += f"{len(part):x}\r\n".encode() + part + b"\r\n"
    out += b"0\r\n" + trailer.encode() + b"\r\n\r\n"
    return bytes(out)


async def test_unsigned_trailer_body_exposes_the_checksum():
    data = b"hello trailer " * 200000
    body = unsigned_trailer_body(data, 65536, f"x-amz-checksum-crc32:{crc32_b64(data)}")
    headers = {
        "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32",
        "content-encoding": "aws-chunked",
    }
    trailers = PayloadTrailers()
    pieces = await collect(reader(body), PayloadSpec("streaming-unsigned-trailer"), headers, trailers)
    assert b"".join(pieces) == data
    assert max(map(len, pieces)) <= PIECE_SIZE + 65536
    assert trailers.received
    assert trailers.get("X-Amz-Checksum-CRC32") == crc32_b64(data)


async def test_announced_but_missing_trailer_is_malformed():
    body = unsigned_trailer_body(b"abc", 10, "x-amz-checksum-sha1:AAAA")
    headers = {"x-amz-decoded-content-length": "3", "x-amz-trailer": "x-amz-checksum-crc32"}
    with pytest.raises(errors.MalformedTrailerError):
        await collect(reader(body), PayloadSpec("streaming-unsigned-trailer"), headers, PayloadTrailers())


async def test_decoded_length_mismatch_is_incomplete():
    body = unsigned_trailer_body(b"abcdef", 4, "x-amz-checksum-crc32:AAAA")
    headers = {"x-amz-decoded-content-length": "5", "x-amz-trailer": "x-amz-checksum-crc32"}
    with pytest.raises(errors.IncompleteBody):
        await collect(reader(body), PayloadSpec("streaming-unsigned-trailer"), headers)


def signed_trailer_body(
    signing, data: bytes, chunk: int, trailer_lines: list[str], tamper_trailer=False
) -> bytes:
    signer = sigv4.ChunkSigner(signing)
    out = bytearray()
    parts = [data[i : i + chunk] for i in range(0, len(data), chunk)] + [b""]
    for part in parts:
        signature = signer.chunk_signature(hashlib.sha256(part).hexdigest())
        signer.accept(signature)
        out += f"{len(part):x};chunk-signature={signature}\r\n".encode() + part
        if part:
            out += b"\r\n"
    canonical = "".join(line + "\n" for line in trailer_lines).encode()
    trailer_signature = signer.trailer_signature(canonical)
    if tamper_trailer:
        trailer_lines = [line + "x" for line in trailer_lines]
    for line in trailer_lines:
        out += line.encode() + b"\r\n"
    out += f"x-amz-trailer-signature:{trailer_signature}\r\n\r\n".encode()
    return bytes(out)


def signed_trailer_headers(length: int) -> CIMultiDict:
    headers = chunked_example_headers()
    headers["x-amz-decoded-content-length"] = str(length)
    headers["x-amz-trailer"] = "x-amz-checksum-crc32"
    return headers


@pytest.mark.parametrize("tamper", [False, True])
async def test_signed_trailer_body(tamper):
    result = authenticator().authenticate(
        "PUT", "/examplebucket/chunkObject.txt", "", chunked_example_headers()
    )
    payload = PayloadSpec("streaming-signed-trailer", chunk_signing=result.payload.chunk_signing)
    data = b"z" * 200000
    body = signed_trailer_body(
        payload.chunk_signing, data, 65536, [f"x-amz-checksum-crc32:{crc32_b64(data)}"], tamper
    )
    trailers = PayloadTrailers()
    if tamper:
        with pytest.raises(errors.SignatureDoesNotMatch):
            await collect(reader(body), payload, signed_trailer_headers(len(data)), trailers)
        return
    assert b"".join(await collect(reader(body), payload, signed_trailer_headers(len(data)), trailers)) == data
    assert trailers.get("x-amz-checksum-crc32") == crc32_b64(data)


# --- a real boto3 client against a real aiohttp server on 127.0.0.1 ---


@pytest.fixture
async def capture_server():
    store = AccountStore.from_file("gateway/s3/default_authdata.json")
    auth = Authenticator(store)
    seen: dict[str, object] = {}

    async def handler(request: web.Request) -> web.Response:
        result = auth.authenticate(request.method, request.raw_path, request.query_string, request.headers)
        trailers = PayloadTrailers()
        digest = hashlib.md5()
        data = bytearray()
        async for piece in iter_payload(request.content, result.payload, request.headers, trailers):
            digest.update(piece)
            data += piece
        seen.update(body=bytes(data), trailers=trailers, mode=result.payload.mode, path=request.raw_path)
        return web.Response(status=200, headers={"ETag": f'"{digest.hexdigest()}"'})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handler)
    server = TestServer(app, host="127.0.0.1", port=0)
    await server.start_server()
    yield f"http://127.0.0.1:{server.port}", seen
    await server.close()


def boto_client(url: str, **config):
    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="accessKey1",
        aws_secret_access_key="verySecretKey1",
        region_name="us-east-1",
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, **config),
    )


@pytest.mark.parametrize("key", ["plain", "sp ace+plus%25/日本/", "a//b"])
async def test_boto3_put_object_with_default_checksum_trailer(capture_server, key):
    url, seen = capture_server
    data = b"0123456789" * 250000
    client = boto_client(url)
    response = await asyncio.to_thread(client.put_object, Bucket="bkt", Key=key, Body=data)
    assert response["ETag"] == f'"{hashlib.md5(data).hexdigest()}"'
    assert seen["body"] == data
    # Over plain http botocore signs the payload and sends the CRC32 as a header, not a trailer.
    assert seen["mode"] == "sha256"


@pytest.mark.parametrize("chunk_size", [3, 65536, 1024 * 1024 + 7])
async def test_botocore_aws_chunked_wrapper_body(chunk_size):
    from botocore.httpchecksum import AwsChunkedWrapper, Crc32Checksum

    data = bytes(range(251)) * (10 if chunk_size < 100 else 10000)
    wrapper = AwsChunkedWrapper(
        io.BytesIO(data),
        checksum_cls=Crc32Checksum,
        checksum_name="x-amz-checksum-crc32",
        chunk_size=chunk_size,
    )
    body = wrapper.read()
    headers = {"x-amz-decoded-content-length": str(len(data)), "x-amz-trailer": "x-amz-checksum-crc32"}
    trailers = PayloadTrailers()
    assert (
        b"".join(await collect(reader(body), PayloadSpec("streaming-unsigned-trailer"), headers, trailers))
        == data
    )
    assert trailers.get("x-amz-checksum-crc32") == crc32_b64(data)


async def test_boto3_put_object_when_checksums_are_only_when_required(capture_server):
    url, seen = capture_server
    client = boto_client(url, request_checksum_calculation="when_required")
    await asyncio.to_thread(client.put_object, Bucket="bkt", Key="k", Body=b"abc")
    assert seen["body"] == b"abc"
    assert seen["mode"] in ("sha256", "unsigned")


async def test_body_of_unknown_length_stops_at_max_size():
    body = b"x" * (3 * PIECE_SIZE)
    stored = []
    with pytest.raises(errors.EntityTooLarge):
        async for piece in iter_payload(reader(body), PayloadSpec(), {}, max_size=2 * PIECE_SIZE + 1):
            stored.append(piece)
    assert sum(map(len, stored)) <= 2 * PIECE_SIZE + 1


async def test_body_at_max_size_is_accepted():
    body = b"x" * (PIECE_SIZE + 5)
    pieces = [piece async for piece in iter_payload(reader(body), PayloadSpec(), {}, max_size=len(body))]
    assert b"".join(pieces) == body


def connected_reader() -> StreamReader:
    """A reader whose protocol has a transport, as a live request body has."""
    loop = asyncio.get_running_loop()
    protocol = BaseProtocol(loop)
    protocol.connection_made(asyncio.Transport())
    return StreamReader(protocol, 2**16, loop=loop)


async def test_body_idle_watchdog_fails_a_stalled_read_with_request_timeout():
    from gateway.limits import BodyIdleWatchdog

    stream = connected_reader()
    stream.feed_data(b"first bytes")
    watchdog = BodyIdleWatchdog(stream, idle_s=0.2)
    try:
        with pytest.raises(errors.RequestTimeout):
            async for _ in iter_payload(stream, PayloadSpec(), {"content-length": "100"}):
                pass
    finally:
        watchdog.stop()
    assert watchdog.fired


async def test_body_idle_watchdog_leaves_a_flowing_body_alone():
    from gateway.limits import BodyIdleWatchdog

    stream = connected_reader()
    watchdog = BodyIdleWatchdog(stream, idle_s=0.2)

    async def feed() -> None:
        for _ in range(10):
            stream.feed_data(b"y" * 10)
            await asyncio.sleep(0.05)
        stream.feed_eof()

    feeder = asyncio.create_task(feed())
    try:
        pieces = [piece async for piece in iter_payload(stream, PayloadSpec(), {"content-length": "100"})]
    finally:
        watchdog.stop()
        await feeder
    assert b"".join(pieces) == b"y" * 100
    assert not watchdog.fired
