"""A page from one origin fetches, cross-origin, from Strata in headless Chromium.

The page (served from its own 127.0.0.1 port) GETs an object and PUTs one with a custom header (the
browser sends a preflight first) on a bucket whose CORS rules admit the page's origin, and does the
same on a bucket whose rules admit another origin only. Both buckets let anonymous requests read and
write (a bucket policy), so only CORS decides what the browser lets the page see. The page writes the
outcome into its DOM, which Chromium dumps once the page is done.
"""

from __future__ import annotations

import json
import subprocess
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from strata.testing.embedded import EmbeddedThread
from tests.integration.conftest import s3_client

PAGE_TEMPLATE = """<!doctype html>
<html><head><title>cors</title></head><body>
<pre id="results">pending</pre>
<script>
const STRATA = %(strata)s;
const BUCKETS = %(buckets)s;
async function attempt(label, url, init) {
  try {
    const response = await fetch(url, init);
    const body = await response.text();
    return {label, outcome: "ok", status: response.status, body, etag: response.headers.get("ETag")};
  } catch (error) {
    return {label, outcome: "blocked", error: error.name};
  }
}
async function run() {
  const results = [];
  for (const [kind, bucket] of Object.entries(BUCKETS)) {
    results.push(await attempt(kind + "-get", STRATA + "/" + bucket + "/hello.txt"));
    results.push(await attempt(kind + "-put", STRATA + "/" + bucket + "/from-page.txt", {
      method: "PUT",
      headers: {"x-custom-header": "yes", "Content-Type": "text/plain"},
      body: "written by the page",
    }));
  }
  document.getElementById("results").textContent = JSON.stringify(results);
}
run();
</script>
</body></html>
"""


class PageServer:
    """A tiny HTTP server on 127.0.0.1 serving one page: the other origin of the test."""

    def __init__(self, page: bytes) -> None:
        body = page

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server API)
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> PageServer:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def strata() -> Iterator[EmbeddedThread]:
    with EmbeddedThread(backend="mem") as running:
        yield running


def public_bucket(s3, name: str) -> None:  # type: ignore[no-untyped-def]
    s3.create_bucket(Bucket=name)
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": [f"arn:aws:s3:::{name}/*"],
            }
        ],
    }
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    s3.put_object(Bucket=name, Key="hello.txt", Body=b"hello from strata", ContentType="text/plain")


def cors_rules(origin: str) -> dict[str, object]:
    return {
        "CORSRules": [
            {
                "AllowedOrigins": [origin],
                "AllowedMethods": ["GET", "PUT"],
                "AllowedHeaders": ["x-custom-header", "content-type"],
                "ExposeHeaders": ["ETag"],
                "MaxAgeSeconds": 60,
            }
        ]
    }


def dump_dom(chromium: str, url: str, profile: Path) -> str:
    """The page's DOM once its scripts are done (virtual time waits for its fetches)."""
    completed = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",  # root in a container has no sandbox to drop into
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--virtual-time-budget=20000",
            "--dump-dom",
            url,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    return completed.stdout


def test_a_page_fetches_cross_origin_only_where_cors_allows_it(
    chromium: str, strata: EmbeddedThread, tmp_path: Path
) -> None:
    s3 = s3_client(strata.url)
    allowed, blocked = f"cors-ok-{uuid.uuid4().hex[:8]}", f"cors-no-{uuid.uuid4().hex[:8]}"
    for name in (allowed, blocked):
        public_bucket(s3, name)
    page = {"strata": json.dumps(strata.url), "buckets": json.dumps({"allowed": allowed, "blocked": blocked})}
    with PageServer((PAGE_TEMPLATE % page).encode()) as pages:
        s3.put_bucket_cors(Bucket=allowed, CORSConfiguration=cors_rules(pages.origin))
        s3.put_bucket_cors(Bucket=blocked, CORSConfiguration=cors_rules("http://elsewhere.example.test"))
        dom = dump_dom(chromium, pages.origin + "/", tmp_path / "profile")

    start, end = dom.index('<pre id="results">') + len('<pre id="results">'), dom.index("</pre>")
    text = dom[start:end].replace("&quot;", '"').replace("&amp;", "&")
    assert text != "pending", dom
    results = {entry["label"]: entry for entry in json.loads(text)}
    etag = s3.head_object(Bucket=allowed, Key="hello.txt")["ETag"]
    assert results["allowed-get"] == {
        "label": "allowed-get",
        "outcome": "ok",
        "status": 200,
        "body": "hello from strata",
        "etag": etag,  # readable by the page: the rule exposes it
    }
    assert results["allowed-put"]["outcome"] == "ok" and results["allowed-put"]["status"] == 200
    written = s3.get_object(Bucket=allowed, Key="from-page.txt")["Body"].read()
    assert written == b"written by the page"
    # The other bucket's rules name another origin: the browser hides the answer and refuses the PUT
    # at its preflight, so nothing is written.
    assert results["blocked-get"] == {"label": "blocked-get", "outcome": "blocked", "error": "TypeError"}
    assert results["blocked-put"] == {"label": "blocked-put", "outcome": "blocked", "error": "TypeError"}
    assert "from-page.txt" not in [
        item["Key"] for item in s3.list_objects_v2(Bucket=blocked).get("Contents", [])
    ]
