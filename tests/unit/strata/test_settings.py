from __future__ import annotations

import json
from pathlib import Path

import pytest

from strata.settings import SettingsError, endpoint_names, load_server_settings, with_env_endpoints


def test_defaults_follow_cloudserver_file_layout() -> None:
    settings = load_server_settings(env={})
    assert settings.backend == "file"
    assert settings.port == 8000
    assert (settings.data_path, settings.metadata_path) == ("./localData", "./localMetadata")
    assert settings.locations["us-east-1"]["type"] == "file"


def test_mem_backend_has_no_disk_location() -> None:
    settings = load_server_settings(env={"S3BACKEND": "mem"})
    assert all(location["type"] != "file" for location in settings.locations.values())


def test_environment_overrides() -> None:
    settings = load_server_settings(
        env={
            "S3DATAPATH": "/d",
            "S3METADATAPATH": "/m",
            "ENDPOINT": "s3.example.com",
            "LISTEN_ADDR": "127.0.0.1",
        }
    )
    assert (settings.data_path, settings.metadata_path, settings.host) == ("/d", "/m", "127.0.0.1")
    assert settings.rest_endpoints["s3.example.com"] == "us-east-1"


def test_endpoint_given_as_urls_like_cloudserver_examples_names_its_hosts() -> None:
    assert endpoint_names("http://localhost, https://s3.example.com:8443/, new.host.com") == [
        "localhost",
        "s3.example.com",
        "new.host.com",
    ]
    settings = load_server_settings(env={"ENDPOINT": "http://s3.example.test"})
    assert settings.rest_endpoints["s3.example.test"] == "us-east-1"


def test_cluster_rest_endpoints_gain_the_endpoint_hosts_without_losing_their_own() -> None:
    merged = with_env_endpoints({"s3.local": "eu-1"}, {"ENDPOINT": "s3.local,extra.example"})
    assert merged == {"s3.local": "eu-1", "extra.example": "us-east-1"}


def test_location_file_is_validated(tmp_path: Path) -> None:
    path = tmp_path / "locationConfig.json"
    path.write_text(json.dumps({"eu-west-1": {"type": "file", "legacyAwsBehavior": False, "details": {}}}))
    with pytest.raises(SettingsError, match="us-east-1"):
        load_server_settings(env={"S3_LOCATION_FILE": str(path)})
    path.write_text("{not json")
    with pytest.raises(SettingsError, match="not valid JSON"):
        load_server_settings(env={"S3_LOCATION_FILE": str(path)})


def test_rest_endpoints_must_name_known_locations(tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"restEndpoints": {"localhost": "nowhere"}}))
    with pytest.raises(SettingsError, match="unknown location"):
        load_server_settings(env={"S3_CONFIG_FILE": str(config)})


def test_website_endpoints_come_from_config_json(tmp_path: Path) -> None:
    from strata.settings import DEFAULT_WEBSITE_ENDPOINTS

    assert load_server_settings(env={}).website_endpoints == DEFAULT_WEBSITE_ENDPOINTS
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"websiteEndpoints": ["Sites.Example.Test", "s3-website.localhost"]}))
    settings = load_server_settings(env={"S3_CONFIG_FILE": str(config)})
    assert settings.website_endpoints == ("sites.example.test", "s3-website.localhost")
    config.write_text(json.dumps({"websiteEndpoints": "sites.example.test"}))
    with pytest.raises(SettingsError, match="websiteEndpoints"):
        load_server_settings(env={"S3_CONFIG_FILE": str(config)})


def test_the_website_port_is_read_and_checked() -> None:
    assert load_server_settings(env={}).gateway.website_port is None
    assert load_server_settings(env={"STRATA_WEBSITE_PORT": "8005"}).gateway.website_port == 8005
    with pytest.raises(SettingsError, match="STRATA_WEBSITE_PORT"):
        load_server_settings(env={"STRATA_WEBSITE_PORT": "http"})


def test_bad_backend_fails_fast() -> None:
    with pytest.raises(SettingsError):
        load_server_settings(env={"S3BACKEND": "tape"})


def _location_file(tmp_path: Path, extra: dict[str, dict[str, object]]) -> str:
    path = tmp_path / "locationConfig.json"
    locations = {"us-east-1": {"type": "file", "legacyAwsBehavior": True, "details": {}}, **extra}
    path.write_text(json.dumps(locations))
    return str(path)


def test_file_backend_defaults_keep_no_location_in_memory() -> None:
    settings = load_server_settings(env={})
    assert all(location["type"] != "mem" for location in settings.locations.values())


def test_memory_location_with_metadata_on_disk_is_refused(tmp_path: Path) -> None:
    path = _location_file(tmp_path, {"scratch": {"type": "mem", "legacyAwsBehavior": False, "details": {}}})
    with pytest.raises(SettingsError, match="'scratch' has type 'mem'"):
        load_server_settings(env={"S3_LOCATION_FILE": path})
    # With metadata in memory too, nothing outlives anything: allowed.
    assert load_server_settings(env={"S3_LOCATION_FILE": path, "S3BACKEND": "mem"}).backend == "mem"


def test_remote_location_in_location_file_is_kept_and_an_unknown_type_refused(tmp_path: Path) -> None:
    remote = {"type": "aws_s3", "legacyAwsBehavior": True, "details": {"bucketName": "b"}}
    path = _location_file(tmp_path, {"aws-location": remote})
    assert load_server_settings(env={"S3_LOCATION_FILE": path}).locations["aws-location"] == remote
    path = _location_file(tmp_path, {"tape": {**remote, "type": "tape_library"}})
    with pytest.raises(SettingsError, match="'tape' has unsupported type 'tape_library'"):
        load_server_settings(env={"S3_LOCATION_FILE": path})


def test_gateway_options_default_and_from_environment() -> None:
    from gateway.limits import GatewayOptions

    assert load_server_settings({}).gateway == GatewayOptions()
    options = load_server_settings(
        {
            "STRATA_HEADER_TIMEOUT": "5",
            "STRATA_BODY_IDLE_TIMEOUT": "7.5",
            "STRATA_MAX_CONNECTIONS": "32",
            "STRATA_MAX_PUT_SIZE": "1048576",
            "STRATA_REGIONS": " eu-central-1, ap-south-7 ,,",
        }
    ).gateway
    assert options == GatewayOptions(
        header_timeout_s=5.0,
        body_idle_timeout_s=7.5,
        max_connections=32,
        max_put_size=1048576,
        extra_regions=("eu-central-1", "ap-south-7"),
    )


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("STRATA_HEADER_TIMEOUT", "soon"),
        ("STRATA_BODY_IDLE_TIMEOUT", "0"),
        ("STRATA_MAX_CONNECTIONS", "1.5"),
        ("STRATA_MAX_PUT_SIZE", "-1"),
    ],
)
def test_bad_gateway_options_fail_fast(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        load_server_settings({name: value})
