"""Location config in etcd: validation, round trip, live watching."""

from __future__ import annotations

import copy

import pytest

from coordinator.etcd import EtcdClient
from coordinator.locations import (
    LocationWatcher,
    default_locations,
    delete_location,
    ensure_default_locations,
    get_locations,
    put_location,
    put_locations,
    validate_locations,
)
from protos.common_pb2 import ErrorReason
from protos.errors import StrataError

AWS_LOCATION = {
    "type": "aws_s3",
    "legacyAwsBehavior": True,
    "details": {
        "awsEndpoint": "s3.amazonaws.com",
        "bucketName": "zenkobucket",
        "bucketMatch": True,
        "credentialsProfile": "zenko",
    },
}
DISK_LOCATION = {"type": "file", "legacyAwsBehavior": False, "details": {}, "sizeLimitGB": 10}


def sample_locations() -> dict:
    locations = default_locations("file")
    locations["disk-2"] = copy.deepcopy(DISK_LOCATION)
    locations["transient"] = {"type": "mem", "legacyAwsBehavior": False, "details": {}, "isTransient": True}
    return locations


def test_default_locations_follow_the_chosen_backend() -> None:
    assert default_locations("mem")["us-east-1"]["type"] == "mem"
    file_defaults = default_locations("file")
    assert file_defaults["us-east-1"] == {"type": "file", "legacyAwsBehavior": True, "details": {}}
    assert file_defaults["file"]["type"] == "file" and file_defaults["mem"]["type"] == "mem"
    validate_locations(file_defaults)
    with pytest.raises(StrataError):
        default_locations("aws_s3")


@pytest.mark.parametrize("location_type", ["aws_s3", "azure", "gcp", "b2", "swift"])
def test_every_remote_location_type_is_a_valid_location(location_type: str) -> None:
    locations = sample_locations()
    locations["cloud-copy"] = {**AWS_LOCATION, "type": location_type}
    validate_locations(locations)


def test_an_unknown_location_type_is_refused_by_name() -> None:
    locations = sample_locations()
    locations["tape"] = {**AWS_LOCATION, "type": "tape_library"}
    with pytest.raises(StrataError) as raised:
        validate_locations(locations)
    assert raised.value.reason == ErrorReason.INVALID_ARGUMENT
    assert "'tape'" in raised.value.message and "'tape_library'" in raised.value.message
    assert "aws_s3" in raised.value.message  # the message lists the types that exist


async def test_remote_location_is_written_to_etcd(client: EtcdClient, cluster: str) -> None:
    await put_locations(client, cluster, default_locations("file"))
    await put_location(client, cluster, "aws-test", AWS_LOCATION)
    assert (await get_locations(client, cluster))["aws-test"] == AWS_LOCATION


@pytest.mark.parametrize(
    ("mutate", "message_part"),
    [
        (lambda locs: locs.pop("us-east-1"), "us-east-1"),
        (lambda locs: locs["disk-2"].pop("type"), "missing type"),
        (lambda locs: locs["disk-2"].pop("legacyAwsBehavior"), "missing legacyAwsBehavior"),
        (lambda locs: locs["disk-2"].pop("details"), "missing details"),
        (lambda locs: locs["disk-2"].update(type="floppy"), "unsupported type"),
        (lambda locs: locs["disk-2"].update(legacyAwsBehavior="yes"), "legacyAwsBehavior"),
        (lambda locs: locs["disk-2"].update(details=[]), "details"),
        (lambda locs: locs.update({"a/b": dict(DISK_LOCATION)}), "without '/'"),
        (lambda locs: locs.update({"bad": "not an object"}), "must be an object"),
    ],
)
def test_validation_names_the_problem(mutate, message_part: str) -> None:
    locations = sample_locations()
    mutate(locations)
    with pytest.raises(StrataError) as raised:
        validate_locations(locations)
    assert raised.value.reason == ErrorReason.INVALID_ARGUMENT
    assert message_part in raised.value.message


async def test_locations_round_trip_through_etcd(client: EtcdClient, cluster: str) -> None:
    assert await get_locations(client, cluster) == {}
    await put_locations(client, cluster, sample_locations())
    assert await get_locations(client, cluster) == sample_locations()


async def test_replacing_removes_locations_not_in_the_new_config(client: EtcdClient, cluster: str) -> None:
    await put_locations(client, cluster, sample_locations())
    await put_locations(client, cluster, default_locations("mem"))
    assert await get_locations(client, cluster) == default_locations("mem")


async def test_invalid_config_is_rejected_before_anything_is_written(
    client: EtcdClient, cluster: str
) -> None:
    locations = sample_locations()
    del locations["us-east-1"]
    with pytest.raises(StrataError):
        await put_locations(client, cluster, locations)
    assert await get_locations(client, cluster) == {}


async def test_default_location_cannot_be_deleted(client: EtcdClient, cluster: str) -> None:
    await ensure_default_locations(client, cluster, "mem")
    with pytest.raises(StrataError):
        await delete_location(client, cluster, "us-east-1")
    assert await delete_location(client, cluster, "mem") is True
    assert set(await get_locations(client, cluster)) == {"us-east-1", "file"}


async def test_ensure_default_locations_keeps_an_existing_config(client: EtcdClient, cluster: str) -> None:
    await put_locations(client, cluster, sample_locations())
    assert await ensure_default_locations(client, cluster, "mem") == sample_locations()


async def test_location_added_in_etcd_reaches_a_running_watcher(client: EtcdClient, cluster: str) -> None:
    await put_locations(client, cluster, default_locations("file"))
    async with LocationWatcher(client, cluster) as watcher:
        assert watcher.locations() == default_locations("file")
        assert "disk-2" not in watcher
        await put_location(client, cluster, "disk-2", DISK_LOCATION)
        assert await watcher.wait_for_location("disk-2", timeout_s=10) == DISK_LOCATION
        assert watcher.get("disk-2") == DISK_LOCATION


async def test_watcher_skips_a_hand_written_invalid_location(client: EtcdClient, cluster: str) -> None:
    await put_locations(client, cluster, default_locations("file"))
    async with LocationWatcher(client, cluster) as watcher:
        await client.put(f"/strata/{cluster}/config/locations/broken", b"{not json")
        await put_location(
            client, cluster, "later", {"type": "mem", "legacyAwsBehavior": False, "details": {}}
        )
        await watcher.wait_for_location("later", timeout_s=10)
        assert "broken" not in watcher
