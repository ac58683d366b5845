"""HTTPS on the S3 port: certFilePaths in config.json and SSL=true, checked with a locally made CA."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from strata.settings import SettingsError, load_server_settings
from strata.testing.embedded import EmbeddedThread
from tests.integration.conftest import ACCESS_KEY, OTHER_ACCESS_KEY, OTHER_SECRET_KEY, SECRET_KEY


def openssl(*args: str, cwd: Path) -> None:
    binary = shutil.which("openssl")
    if binary is None:
        pytest.fail("openssl is not installed")
    subprocess.run([binary, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_certificates(directory: Path) -> dict[str, str]:
    """A local CA and a server certificate for localhost/127.0.0.1, as docs/https.md shows."""
    openssl("genrsa", "-out", "ca.key", "2048", cwd=directory)
    openssl(
        "req", "-new", "-x509", "-key", "ca.key", "-out", "ca.crt", "-days", "2", "-subj", "/CN=Strata test CA",
        "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
        cwd=directory,
    )  # fmt: skip
    openssl("genrsa", "-out", "server.key", "2048", cwd=directory)
    openssl(
        "req", "-new", "-key", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=directory
    )
    (directory / "server.ext").write_text(
        "subjectAltName=DNS:localhost,DNS:s3.localtest,DNS:*.s3.localtest,IP:127.0.0.1\n"
        "extendedKeyUsage=serverAuth\n"
    )
    openssl(
        "x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "server.crt", "-days", "2", "-sha256", "-extfile", "server.ext",
        cwd=directory,
    )  # fmt: skip
    return {
        name: str(directory / file)
        for name, file in (("key", "server.key"), ("cert", "server.crt"), ("ca", "ca.crt"))
    }


@pytest.fixture(scope="module")
def certificates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return make_certificates(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def config_file(certificates: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("config") / "config.json"
    path.write_text(json.dumps({"certFilePaths": certificates}))
    return path


@pytest.fixture(scope="module")
def https_server(config_file: Path):  # type: ignore[no-untyped-def]
    running = EmbeddedThread(backend="mem")
    env = {"S3_CONFIG_FILE": str(config_file), "SSL": "true"}
    running.settings = load_server_settings(env, backend="mem", host="127.0.0.1", port=0)
    with running:
        yield running


def test_boto3_talks_https_and_verifies_the_local_ca(https_server, certificates) -> None:
    assert https_server.url.startswith("https://")
    s3 = boto3.client(
        "s3",
        endpoint_url=https_server.url,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
        verify=certificates["ca"],
        config=Config(s3={"addressing_style": "path"}),
    )
    s3.create_bucket(Bucket="tls-bucket")
    s3.put_object(Bucket="tls-bucket", Key="k", Body=b"over tls")
    assert s3.get_object(Bucket="tls-bucket", Key="k")["Body"].read() == b"over tls"
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "tls-bucket", "Key": "k"})
    context = ssl.create_default_context(cafile=certificates["ca"])
    with urllib.request.urlopen(url, context=context, timeout=30) as response:
        assert response.read() == b"over tls"
    s3.delete_object(Bucket="tls-bucket", Key="k")
    s3.delete_bucket(Bucket="tls-bucket")


def test_secure_transport_conditions_see_the_tls_port(https_server, certificates) -> None:
    def client(access_key: str, secret_key: str):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3",
            endpoint_url=https_server.url,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            region_name="us-east-1",
            verify=certificates["ca"],
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    owner, other = client(ACCESS_KEY, SECRET_KEY), client(OTHER_ACCESS_KEY, OTHER_SECRET_KEY)
    owner.create_bucket(Bucket="tls-policy")
    owner.put_object(Bucket="tls-policy", Key="k", Body=b"secret")

    def only(secure: str) -> None:
        statement = {
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789013:root"},
            "Action": "s3:GetObject",
            "Resource": "arn:aws:s3:::tls-policy/*",
            "Condition": {"Bool": {"aws:SecureTransport": secure}},
        }
        owner.put_bucket_policy(
            Bucket="tls-policy", Policy=json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        )

    try:
        only("true")
        assert other.get_object(Bucket="tls-policy", Key="k")["Body"].read() == b"secret"
        only("false")
        with pytest.raises(ClientError) as refused:
            other.get_object(Bucket="tls-policy", Key="k")
        assert refused.value.response["Error"]["Code"] == "AccessDenied"
    finally:
        owner.delete_bucket_policy(Bucket="tls-policy")
        owner.delete_object(Bucket="tls-policy", Key="k")
        owner.delete_bucket(Bucket="tls-policy")


def test_a_client_without_the_ca_refuses_the_server(https_server) -> None:
    with pytest.raises(urllib.error.URLError) as excinfo:
        urllib.request.urlopen(
            https_server.url + "/_/healthcheck", context=ssl.create_default_context(), timeout=30
        )
    assert isinstance(excinfo.value.reason, ssl.SSLCertVerificationError)


def test_plain_http_is_not_served_on_the_tls_port(https_server) -> None:
    plain = https_server.url.replace("https://", "http://")
    with pytest.raises((ConnectionError, urllib.error.URLError, OSError)):
        urllib.request.urlopen(plain + "/_/healthcheck", timeout=30).read()


def test_ssl_without_certificates_fails_at_startup() -> None:
    with pytest.raises(SettingsError, match="certFilePaths"):
        load_server_settings({"SSL": "true"}, backend="mem")


def test_missing_certificate_file_fails_at_startup(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(
        json.dumps({"certFilePaths": {"key": str(tmp_path / "no.key"), "cert": str(tmp_path / "no.crt")}})
    )
    with pytest.raises(SettingsError, match="certFilePaths.key"):
        load_server_settings({"S3_CONFIG_FILE": str(config)}, backend="mem")


def test_ssl_false_serves_plain_http_even_with_certificates(config_file: Path) -> None:
    settings = load_server_settings({"S3_CONFIG_FILE": str(config_file), "SSL": "false"}, backend="mem")
    assert settings.certificates is None
    assert load_server_settings({"S3_CONFIG_FILE": str(config_file)}, backend="mem").certificates is not None


def test_a_tls_handshake_that_never_comes_is_dropped_after_the_header_timeout(config_file: Path) -> None:
    running = EmbeddedThread(backend="mem")
    env = {"S3_CONFIG_FILE": str(config_file), "SSL": "true", "STRATA_HEADER_TIMEOUT": "1"}
    running.settings = load_server_settings(env, backend="mem", host="127.0.0.1", port=0)
    with running, socket.create_connection(("127.0.0.1", running.port), timeout=20) as silent:
        try:
            assert silent.recv(100) == b""  # closed by the server, well before asyncio's 60 s default
        except ConnectionResetError:
            pass
