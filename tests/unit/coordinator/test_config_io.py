"""`strata config import/export`: CloudServer-shaped files round-trip through etcd."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from coordinator.config_io import (
    export_files,
    get_authdata,
    get_rest_endpoints,
    get_settings,
    get_website_endpoints,
    import_files,
)
from coordinator.etcd import EtcdClient
from coordinator.keyspace import Keyspace
from coordinator.locations import get_locations
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

CONFIG = {
    "port": 8000,
    "listenOn": [],
    "replicationGroupId": "RG001",
    "restEndpoints": {
        "localhost": "us-east-1",
        "127.0.0.1": "us-east-1",
        "s3.docker.test": "us-east-1",
        "zenkotos3.com": "custom-location",
    },
    "websiteEndpoints": [
        "s3-website-us-east-1.amazonaws.com",
        "s3-website.us-east-2.amazonaws.com",
    ],
    "cdmi": {},
    "bucketd": {"bootstrap": ["localhost"]},
    "vaultd": {"host": "localhost", "port": 8500},
    "clusters": 10,
    "log": {"logLevel": "info", "dumpLevel": "error"},
    "healthChecks": {"allowFrom": ["127.0.0.1/8", "::1"]},
    "metadataClient": {"host": "localhost", "port": 9990},
    "dataClient": {"host": "localhost", "port": 9991},
    "recordLog": {"enabled": False, "recordLogName": "s3-recordlog"},
}

LOCATIONS = {
    "us-east-1": {"type": "file", "legacyAwsBehavior": True, "details": {}},
    "custom-location": {"type": "mem", "legacyAwsBehavior": False, "details": {}},
    "archive": {"type": "file", "legacyAwsBehavior": True, "details": {}, "sizeLimitGB": 100},
}

AZURE_LOCATION = {
    "type": "azure",
    "legacyAwsBehavior": True,
    "details": {
        "azureStorageEndpoint": "https://fakeaccountname.blob.core.fake.net/",
        "azureStorageAccountName": "fakeaccountname",
        "azureStorageAccessKey": "Fake00Key001",
        "bucketMatch": True,
        "azureContainerName": "s3test",
    },
}

AUTHDATA = {
    "accounts": [
        {
            "name": "Bart",
            "email": "sampleaccount1@sampling.com",
            "arn": "arn:aws:iam::123456789012:root",
            "canonicalID": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be",
            "shortid": "123456789012",
            "keys": [
                {"access": "accessKey1", "secret": "verySecretKey1"},
                {"access": "accessKey3", "secret": "verySecretKey3"},
            ],
        },
        {
            "name": "Lisa",
            "email": "sampleaccount2@sampling.com",
            "arn": "arn:aws:iam::123456789013:root",
            "canonicalID": "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2bf",
            "shortid": "123456789013",
            "keys": [{"access": "accessKey2", "secret": "verySecretKey2"}],
        },
    ]
}


def write_samples(
    directory: Path, config=CONFIG, locations=LOCATIONS, authdata=AUTHDATA
) -> tuple[Path, Path, Path]:
    (directory / "conf").mkdir(parents=True, exist_ok=True)
    paths = (
        directory / "config.json",
        directory / "locationConfig.json",
        directory / "conf" / "authdata.json",
    )
    for path, document in zip(paths, (config, locations, authdata), strict=True):
        path.write_text(json.dumps(document, indent=2))
    return paths


async def test_import_then_export_round_trips_all_three_files(
    client: EtcdClient, cluster: str, tmp_path: Path
) -> None:
    config_path, locations_path, authdata_path = write_samples(tmp_path / "in")
    summary = await import_files(client, cluster, config_path, locations_path, authdata_path)
    assert (summary.settings, summary.locations, summary.access_keys) == (len(CONFIG), 3, 3)

    written = await export_files(client, cluster, tmp_path / "out")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == [
        "conf/authdata.json",
        "config.json",
        "locationConfig.json",
    ]
    assert json.loads((tmp_path / "out" / "config.json").read_text()) == CONFIG
    assert json.loads((tmp_path / "out" / "locationConfig.json").read_text()) == LOCATIONS
    assert json.loads((tmp_path / "out" / "conf" / "authdata.json").read_text()) == AUTHDATA


async def test_import_spreads_files_over_the_keyspace(
    client: EtcdClient, cluster: str, tmp_path: Path
) -> None:
    await import_files(client, cluster, *write_samples(tmp_path))
    keys = Keyspace(cluster)
    assert await get_rest_endpoints(client, cluster) == CONFIG["restEndpoints"]
    assert await get_website_endpoints(client, cluster) == CONFIG["websiteEndpoints"]
    settings = await get_settings(client, cluster)
    assert settings["replicationGroupId"] == "RG001" and "restEndpoints" not in settings
    assert set(await get_locations(client, cluster)) == set(LOCATIONS)
    stored = await client.get(keys.account("accessKey3"))
    assert stored is not None
    account = json.loads(stored)
    assert account["name"] == "Bart"
    assert account["keys"] == [{"access": "accessKey3", "secret": "verySecretKey3"}]


async def test_reimport_merges_accounts_by_access_key(
    client: EtcdClient, cluster: str, tmp_path: Path
) -> None:
    await import_files(client, cluster, *write_samples(tmp_path / "first"))
    before = await get_authdata(client, cluster)
    lisa = json.loads(json.dumps(AUTHDATA["accounts"][1]))
    lisa["keys"] = [{"access": lisa["keys"][0]["access"], "secret": "a-new-secret"}]
    newcomer = {
        "name": "Maggie",
        "email": "maggie@strata.local",
        "arn": "arn:aws:iam::123456789099:root",
        "canonicalID": "m" * 64,
        "shortid": "123456789099",
        "keys": [{"access": "maggieKey", "secret": "maggieSecret"}],
    }
    _, _, authdata_path = write_samples(tmp_path / "second", authdata={"accounts": [lisa, newcomer]})
    summary = await import_files(client, cluster, None, None, authdata_path)
    assert summary.accounts is not None
    assert summary.accounts.added == ("maggieKey",)
    assert summary.accounts.updated == (lisa["keys"][0]["access"],)
    assert summary.accounts.removed == ()
    stored = {
        key["access"]: key["secret"]
        for a in (await get_authdata(client, cluster))["accounts"]
        for key in a["keys"]
    }
    kept = {key["access"]: key["secret"] for a in before["accounts"] for key in a["keys"]}
    assert stored == {**kept, lisa["keys"][0]["access"]: "a-new-secret", "maggieKey": "maggieSecret"}
    assert any("1 added (maggieKey)" in line for line in summary.lines())


async def test_reimport_replacing_accounts_leaves_other_files_alone(
    client: EtcdClient, cluster: str, tmp_path: Path
) -> None:
    await import_files(client, cluster, *write_samples(tmp_path / "first"))
    only_lisa = {"accounts": [AUTHDATA["accounts"][1]]}
    _, _, authdata_path = write_samples(tmp_path / "second", authdata=only_lisa)
    summary = await import_files(client, cluster, None, None, authdata_path, replace_accounts=True)
    assert (summary.settings, summary.locations, summary.access_keys) == (None, None, 1)
    assert await get_authdata(client, cluster) == only_lisa
    assert await client.get(Keyspace(cluster).account("accessKey1")) is None
    assert set(await get_locations(client, cluster)) == set(LOCATIONS)
    assert await get_rest_endpoints(client, cluster) == CONFIG["restEndpoints"]


async def test_rest_endpoint_to_an_unknown_location_is_rejected_before_writing(
    client: EtcdClient, cluster: str, tmp_path: Path
) -> None:
    config = {**CONFIG, "restEndpoints": {"localhost": "nowhere"}}
    paths = write_samples(tmp_path, config=config)
    with pytest.raises(StrataError) as raised:
        await import_files(client, cluster, *paths)
    assert raised.value.reason == ErrorReason.INVALID_ARGUMENT
    assert "nowhere" in raised.value.message
    assert await get_locations(client, cluster) == {}
    assert await get_authdata(client, cluster) == {"accounts": []}


async def test_import_keeps_a_remote_location_and_refuses_an_unknown_type_before_writing(
    client: EtcdClient, cluster: str, tmp_path: Path
) -> None:
    unknown = {**AZURE_LOCATION, "type": "tape_library"}
    paths = write_samples(tmp_path, locations={**LOCATIONS, "azurebackend": AZURE_LOCATION, "tape": unknown})
    with pytest.raises(StrataError) as raised:
        await import_files(client, cluster, *paths)
    assert raised.value.reason == ErrorReason.INVALID_ARGUMENT
    assert "'tape'" in raised.value.message and "'tape_library'" in raised.value.message
    assert await get_locations(client, cluster) == {}
    assert await get_authdata(client, cluster) == {"accounts": []}
    paths = write_samples(tmp_path, locations={**LOCATIONS, "azurebackend": AZURE_LOCATION})
    await import_files(client, cluster, *paths)
    assert (await get_locations(client, cluster))["azurebackend"] == AZURE_LOCATION


async def test_config_alone_is_checked_against_locations_already_in_etcd(
    client: EtcdClient, cluster: str, tmp_path: Path
) -> None:
    config_path, locations_path, _ = write_samples(tmp_path)
    with pytest.raises(StrataError):
        await import_files(client, cluster, config_path, None, None)  # no locations anywhere yet
    await import_files(client, cluster, None, locations_path, None)
    await import_files(client, cluster, config_path, None, None)
    assert await get_rest_endpoints(client, cluster) == CONFIG["restEndpoints"]


@pytest.mark.parametrize(
    "authdata",
    [
        {"accounts": "nope"},
        {"accounts": [{"canonicalID": "x", "keys": []}]},
        {"accounts": [{"name": "A", "keys": []}]},
        {"accounts": [{"name": "A", "canonicalID": "x", "keys": [{"access": "k"}]}]},
        {
            "accounts": [
                {"name": "A", "canonicalID": "x", "keys": [{"access": "k", "secret": "s"}]},
                {"name": "B", "canonicalID": "y", "keys": [{"access": "k", "secret": "t"}]},
            ]
        },
    ],
)
async def test_invalid_authdata_is_rejected(
    client: EtcdClient, cluster: str, tmp_path: Path, authdata
) -> None:
    _, _, authdata_path = write_samples(tmp_path, authdata=authdata)
    with pytest.raises(StrataError) as raised:
        await import_files(client, cluster, None, None, authdata_path)
    assert raised.value.reason == ErrorReason.INVALID_ARGUMENT


async def test_unreadable_or_malformed_files_are_invalid_arguments(
    client: EtcdClient, cluster: str, tmp_path: Path
) -> None:
    with pytest.raises(StrataError) as missing:
        await import_files(client, cluster, tmp_path / "absent.json", None, None)
    assert missing.value.reason == ErrorReason.INVALID_ARGUMENT
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    with pytest.raises(StrataError) as malformed:
        await import_files(client, cluster, None, broken, None)
    assert malformed.value.reason == ErrorReason.INVALID_ARGUMENT
