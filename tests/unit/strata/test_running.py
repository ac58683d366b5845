"""strata.testing.running: the credentials a server accepts and the boto3 client built from them."""

from __future__ import annotations

from botocore.config import Config

from strata.testing.running import DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY, Credentials, boto3_client


def test_credentials_are_the_scality_pair_when_both_are_set() -> None:
    env = {"SCALITY_ACCESS_KEY_ID": "tenantKey", "SCALITY_SECRET_ACCESS_KEY": "tenantSecret"}

    assert Credentials.from_environment(env) == Credentials("tenantKey", "tenantSecret", "us-east-1")


def test_credentials_are_the_default_pair_without_the_scality_pair() -> None:
    assert Credentials.from_environment({}) == Credentials(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY)
    assert (
        Credentials.from_environment({"SCALITY_ACCESS_KEY_ID": "only-half"}).access_key == DEFAULT_ACCESS_KEY
    )


def test_credentials_as_environment_round_trip() -> None:
    credentials = Credentials("k", "s")

    assert Credentials.from_environment(credentials.as_environment()) == credentials


def test_boto3_client_uses_the_endpoint_credentials_region_and_path_style() -> None:
    client = boto3_client("http://127.0.0.1:1", Credentials("key", "secret", "eu-west-3"))

    frozen = client._request_signer._credentials.get_frozen_credentials()
    assert client.meta.endpoint_url == "http://127.0.0.1:1"
    assert (frozen.access_key, frozen.secret_key) == ("key", "secret")
    assert client.meta.region_name == "eu-west-3"
    assert client.meta.config.s3["addressing_style"] == "path"


def test_boto3_client_merges_a_given_config_over_its_own() -> None:
    client = boto3_client(
        "http://127.0.0.1:1", Credentials("key", "secret"), config=Config(retries={"max_attempts": 1})
    )

    assert client.meta.config.retries["total_max_attempts"] == 2  # botocore counts the first attempt too
    assert client.meta.config.s3["addressing_style"] == "path"


def test_the_default_pair_needs_no_environment() -> None:
    assert Credentials(DEFAULT_ACCESS_KEY, DEFAULT_SECRET_KEY).as_environment() == {}
