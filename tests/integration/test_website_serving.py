"""A static website served by the embedded server to curl and to aiohttp, through the website
endpoint names (``<bucket>.s3-website.localhost``) and the dedicated website port."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from gateway.limits import GatewayOptions
from strata.settings import ServerSettings
from strata.testing.embedded import EmbeddedThread
from tests.integration.conftest import s3_client

WEBSITE_ENDPOINT = "s3-website.localhost"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module")
def site_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[EmbeddedThread, int]]:
    root: Path = tmp_path_factory.mktemp("website")
    server = EmbeddedThread(backend="file", root=root)
    website_port = free_port()
    server.settings = dataclasses.replace(
        server.settings,
        website_endpoints=(WEBSITE_ENDPOINT, "s3-website-us-east-1.amazonaws.com"),
        gateway=GatewayOptions(website_port=website_port),
    )
    with server:
        yield server, website_port


@pytest.fixture(scope="module")
def owner(site_server: tuple[EmbeddedThread, int]):  # type: ignore[no-untyped-def]
    return s3_client(site_server[0].url)


def public_read_policy(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": "*",
                    "Action": ["s3:GetObject", "s3:ListBucket"],
                    "Resource": [f"arn:aws:s3:::{bucket}/*", f"arn:aws:s3:::{bucket}"],
                }
            ],
        }
    )


def empty_bucket(s3, name: str) -> None:  # type: ignore[no-untyped-def]
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=name):
        for item in page.get("Contents", []):
            s3.delete_object(Bucket=name, Key=item["Key"])
    s3.delete_bucket(Bucket=name)


@pytest.fixture
def site(owner) -> Iterator[str]:  # type: ignore[no-untyped-def]
    """A public bucket holding a small site, configured with index and error documents."""
    name = f"site-{uuid.uuid4().hex[:12]}"
    owner.create_bucket(Bucket=name)
    owner.put_bucket_policy(Bucket=name, Policy=public_read_policy(name))
    pages = {
        "index.html": b"<h1>home</h1>",
        "blog/index.html": b"<h1>blog</h1>",
        "blog/post.html": b"<p>post</p>",
        "error.html": b"<h1>custom error page</h1>",
    }
    for key, body in pages.items():
        owner.put_object(Bucket=name, Key=key, Body=body, ContentType="text/html")
    owner.put_bucket_website(
        Bucket=name,
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "ErrorDocument": {"Key": "error.html"},
        },
    )
    yield name
    empty_bucket(owner, name)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def curl(port: int, host: str, path: str, *options: str) -> Answer:
    """One request by a real curl to 127.0.0.1:``port`` for ``host`` (``--resolve``, as DNS would)."""
    hostname = host.split(":", 1)[0]
    completed = subprocess.run(
        [
            "curl",
            "--silent",
            "--show-error",
            "--max-time",
            "30",
            "--resolve",
            f"{hostname}:{port}:127.0.0.1",
            "--include",
            *options,
            f"http://{hostname}:{port}{path}",
        ],
        capture_output=True,
        check=True,
    )
    head, _, body = completed.stdout.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return Answer(status, headers, body)


def website_host(bucket: str) -> str:
    return f"{bucket}.{WEBSITE_ENDPOINT}"


def get(server: EmbeddedThread, bucket: str, path: str, *options: str) -> Answer:
    return curl(server.port, website_host(bucket), path, *options)


# ---- index and error documents ----


def test_the_root_and_folders_serve_their_index_document(site_server, site: str) -> None:
    server, _ = site_server
    root = get(server, site, "/")
    assert (root.status, root.body) == (200, b"<h1>home</h1>")
    assert root.headers["content-type"].startswith("text/html")
    assert get(server, site, "/blog/").body == b"<h1>blog</h1>"
    assert get(server, site, "/blog/post.html").body == b"<p>post</p>"


def test_a_folder_without_its_slash_redirects_to_it(site_server, site: str) -> None:
    answer = get(site_server[0], site, "/blog")
    assert answer.status == 302
    assert answer.headers["location"] == "/blog/"
    assert answer.headers["x-amz-request-id"]


def test_a_missing_page_serves_the_error_document_with_404(site_server, site: str) -> None:
    answer = get(site_server[0], site, "/nowhere.html")
    assert (answer.status, answer.body) == (404, b"<h1>custom error page</h1>")


def test_without_an_error_document_errors_are_html_pages(site_server, owner, site: str) -> None:
    owner.put_bucket_website(Bucket=site, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}})
    answer = get(site_server[0], site, "/nowhere.html")
    assert answer.status == 404
    assert answer.headers["content-type"].startswith("text/html")
    text = answer.body.decode()
    assert "<h1>404 Not Found</h1>" in text
    assert "<li>Code: NoSuchKey</li>" in text
    assert f"<li>RequestId: {answer.headers['x-amz-request-id']}</li>" in text
    assert "<?xml" not in text


def test_an_unreadable_error_document_is_reported_in_the_page(site_server, owner, site: str) -> None:
    owner.put_bucket_website(
        Bucket=site,
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "ErrorDocument": {"Key": "gone.html"},
        },
    )
    answer = get(site_server[0], site, "/nowhere.html")
    assert answer.status == 404
    text = answer.body.decode()
    assert "<li>Code: NoSuchKey</li>" in text
    assert "Custom Error Document" in text


def test_head_answers_without_a_body(site_server, site: str) -> None:
    found = get(site_server[0], site, "/", "--head")
    assert found.status == 200
    assert found.headers["content-length"] == str(len(b"<h1>home</h1>"))
    assert found.body == b""
    missing = get(site_server[0], site, "/nowhere.html", "--head")
    assert (missing.status, missing.body) == (404, b"")


@pytest.mark.parametrize("method", ["PUT", "POST", "DELETE"])
def test_only_get_and_head_are_served(site_server, owner, site: str, method: str) -> None:
    answer = get(site_server[0], site, "/index.html", "--request", method, "--data", "x")
    assert answer.status == 405
    assert "<li>Code: MethodNotAllowed</li>" in answer.body.decode()
    # A body held back behind Expect: 100-continue gets the same answer, in HTML.
    expecting = get(
        site_server[0],
        site,
        "/index.html",
        "--request",
        method,
        "--data",
        "x",
        "--header",
        "Expect: 100-continue",
    )
    assert expecting.status == 405
    assert "<li>Code: MethodNotAllowed</li>" in expecting.body.decode()
    # Nothing was written.
    assert owner.get_object(Bucket=site, Key="index.html")["Body"].read() == b"<h1>home</h1>"


# ---- access ----


def test_a_bucket_that_is_not_public_answers_403(site_server, owner) -> None:  # type: ignore[no-untyped-def]
    name = f"private-{uuid.uuid4().hex[:12]}"
    owner.create_bucket(Bucket=name)
    try:
        owner.put_object(Bucket=name, Key="index.html", Body=b"secret")
        owner.put_bucket_website(
            Bucket=name, WebsiteConfiguration={"IndexDocument": {"Suffix": "index.html"}}
        )
        answer = get(site_server[0], name, "/")
        assert answer.status == 403
        assert "<li>Code: AccessDenied</li>" in answer.body.decode()
        assert b"secret" not in answer.body
        # A public-read ACL on the object opens it, as for an anonymous GetObject.
        owner.put_object_acl(Bucket=name, Key="index.html", ACL="public-read")
        assert get(site_server[0], name, "/").body == b"secret"
    finally:
        empty_bucket(owner, name)


def test_without_list_permission_a_missing_page_is_403_with_the_error_document(
    site_server, owner, site: str
) -> None:
    read_only = json.loads(public_read_policy(site))
    read_only["Statement"][0]["Action"] = ["s3:GetObject"]
    read_only["Statement"][0]["Resource"] = [f"arn:aws:s3:::{site}/*"]
    owner.put_bucket_policy(Bucket=site, Policy=json.dumps(read_only))
    assert get(site_server[0], site, "/").body == b"<h1>home</h1>"
    answer = get(site_server[0], site, "/nowhere.html")
    assert (answer.status, answer.body) == (403, b"<h1>custom error page</h1>")


def test_a_bucket_policy_deny_is_honoured(site_server, owner, site: str) -> None:
    policy = json.loads(public_read_policy(site))
    policy["Statement"].append(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{site}/blog/*",
        }
    )
    owner.put_bucket_policy(Bucket=site, Policy=json.dumps(policy))
    assert get(site_server[0], site, "/").status == 200
    denied = get(site_server[0], site, "/blog/post.html")
    assert (denied.status, denied.body) == (403, b"<h1>custom error page</h1>")


def test_a_bucket_without_website_configuration_is_an_html_404(site_server, owner) -> None:  # type: ignore[no-untyped-def]
    name = f"plain-{uuid.uuid4().hex[:12]}"
    owner.create_bucket(Bucket=name)
    try:
        answer = get(site_server[0], name, "/")
        assert answer.status == 404
        assert "<li>Code: NoSuchWebsiteConfiguration</li>" in answer.body.decode()
    finally:
        owner.delete_bucket(Bucket=name)
    missing = get(site_server[0], name, "/")
    assert (missing.status, "<li>Code: NoSuchBucket</li>" in missing.body.decode()) == (404, True)


# ---- redirects ----


def test_redirect_all_requests_keeps_the_path(site_server, owner, site: str) -> None:
    owner.put_bucket_website(
        Bucket=site,
        WebsiteConfiguration={"RedirectAllRequestsTo": {"HostName": "www.example.test", "Protocol": "https"}},
    )
    answer = get(site_server[0], site, "/blog/post.html")
    assert answer.status == 301
    assert answer.headers["location"] == "https://www.example.test/blog/post.html"


def test_routing_rules_by_prefix_and_by_error_code(site_server, owner, site: str) -> None:
    owner.put_bucket_website(
        Bucket=site,
        WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"},
            "ErrorDocument": {"Key": "error.html"},
            "RoutingRules": [
                {
                    "Condition": {"KeyPrefixEquals": "old/"},
                    "Redirect": {"ReplaceKeyPrefixWith": "blog/", "HttpRedirectCode": "302"},
                },
                {
                    "Condition": {"KeyPrefixEquals": "images/", "HttpErrorCodeReturnedEquals": "404"},
                    "Redirect": {"HostName": "images.example.test", "Protocol": "https"},
                },
                {
                    "Condition": {"HttpErrorCodeReturnedEquals": "404"},
                    "Redirect": {"ReplaceKeyWith": "index.html"},
                },
            ],
        },
    )
    server = site_server[0]
    host = f"{website_host(site)}:{server.port}"
    moved = get(server, site, "/old/post.html")
    assert (moved.status, moved.headers["location"]) == (302, f"http://{host}/blog/post.html")
    image = get(server, site, "/images/cat.png")
    assert (image.status, image.headers["location"]) == (301, "https://images.example.test/images/cat.png")
    other = get(server, site, "/missing.html")
    assert (other.status, other.headers["location"]) == (301, f"http://{host}/index.html")
    # A page that exists is served: error-code rules only apply to errors.
    assert get(server, site, "/blog/post.html").body == b"<p>post</p>"


def test_an_object_with_a_redirect_location_answers_301(site_server, owner, site: str) -> None:
    owner.put_object(Bucket=site, Key="moved.html", Body=b"", WebsiteRedirectLocation="/blog/post.html")
    answer = get(site_server[0], site, "/moved.html")
    assert (answer.status, answer.headers["location"]) == (301, "/blog/post.html")


# ---- the website port and aiohttp ----


def test_the_website_port_serves_the_bucket_named_by_the_first_label(site_server, site: str) -> None:
    _, website_port = site_server
    answer = curl(website_port, f"{site}.www.example.test", "/blog/")
    assert (answer.status, answer.body) == (200, b"<h1>blog</h1>")
    on_address = curl(website_port, "127.0.0.1", "/")
    assert on_address.status == 404
    assert "<li>Code: NoSuchBucket</li>" in on_address.body.decode()


def test_the_rest_endpoint_still_answers_s3(site_server, owner, site: str) -> None:
    # The same bucket through the S3 port and path style: XML, not HTML.
    answer = curl(site_server[0].port, "127.0.0.1", f"/{site}/nowhere.html")
    assert answer.status == 404
    assert answer.body.startswith(b"<?xml")


def test_cors_rules_answer_on_the_website_endpoint(site_server, owner, site: str) -> None:
    owner.put_bucket_cors(
        Bucket=site,
        CORSConfiguration={
            "CORSRules": [
                {"AllowedOrigins": ["http://app.example"], "AllowedMethods": ["GET"], "MaxAgeSeconds": 60}
            ]
        },
    )
    page = get(site_server[0], site, "/blog/post.html", "--header", "Origin: http://app.example")
    assert page.status == 200 and page.body == b"<p>post</p>"
    assert page.headers["access-control-allow-origin"] == "http://app.example"
    assert "Origin" in page.headers["vary"]
    # An error page carries them too; another origin gets none.
    missing = get(site_server[0], site, "/nowhere.html", "--header", "Origin: http://app.example")
    assert missing.status == 404 and missing.headers["access-control-allow-origin"] == "http://app.example"
    elsewhere = get(site_server[0], site, "/blog/post.html", "--header", "Origin: http://evil.example")
    assert "access-control-allow-origin" not in elsewhere.headers
    preflight = ("--request", "OPTIONS", "--header", "Access-Control-Request-Method: GET")
    allowed = get(
        site_server[0], site, "/blog/post.html", *preflight, "--header", "Origin: http://app.example"
    )
    assert allowed.status == 200
    assert allowed.headers["access-control-allow-methods"] == "GET"
    assert allowed.headers["access-control-max-age"] == "60"
    refused = get(
        site_server[0], site, "/blog/post.html", *preflight, "--header", "Origin: http://evil.example"
    )
    assert refused.status == 403 and b"AccessForbidden" in refused.body


def test_aiohttp_reads_pages_with_a_host_header(site_server, site: str) -> None:
    server, _ = site_server

    async def fetch() -> list[tuple[int, bytes]]:
        async with aiohttp.ClientSession() as session:
            answers = []
            for path in ("/", "/blog/post.html", "/nowhere.html"):
                async with session.get(
                    f"http://127.0.0.1:{server.port}{path}", headers={"Host": website_host(site)}
                ) as response:
                    answers.append((response.status, await response.read()))
            return answers

    assert asyncio.run(fetch()) == [
        (200, b"<h1>home</h1>"),
        (200, b"<p>post</p>"),
        (404, b"<h1>custom error page</h1>"),
    ]


def test_a_taken_website_port_fails_start_up_naming_it() -> None:
    from strata.embedded import running_embedded
    from strata.runtime.errors import StartupError

    async def start(settings: ServerSettings) -> None:
        async with running_embedded(settings):
            pass

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        settings = dataclasses.replace(
            EmbeddedThread(backend="mem").settings, gateway=GatewayOptions(website_port=port)
        )
        with pytest.raises(StartupError, match=f"127.0.0.1:{port}: the address is already in use"):
            asyncio.run(start(settings))
