from gateway.s3.regions import expected_region, served_regions


def test_served_regions_always_include_us_east_1() -> None:
    assert served_regions({}) == {"us-east-1"}


def test_served_regions_take_location_names_details_region_and_extras() -> None:
    locations = {
        "us-east-1": {"type": "file", "details": {}},
        "scality-us-west-1": {"type": "mem", "details": {}},
        "archive": {"type": "aws_s3", "details": {"region": "eu-west-3", "bucketName": "b"}},
        "file": {"type": "file", "details": {}},
        "mem": {"type": "mem"},
    }
    assert served_regions(locations, [" ap-south-7 ", ""]) == {
        "us-east-1",
        "scality-us-west-1",
        "archive",
        "eu-west-3",
        "file",
        "mem",
        "ap-south-7",
    }


def test_expected_region_prefers_us_east_1() -> None:
    assert expected_region(frozenset({"eu-west-3", "us-east-1"})) == "us-east-1"
    assert expected_region(frozenset({"eu-west-3", "ap-south-7"})) == "ap-south-7"


def test_bucket_region_is_the_locations_region_else_its_name() -> None:
    from gateway.s3.regions import bucket_region

    locations = {
        "archive": {"type": "aws_s3", "details": {"region": "eu-west-3"}},
        "file": {"type": "file", "details": {}},
    }
    assert bucket_region("archive", locations) == "eu-west-3"
    assert bucket_region("file", locations) == "file"
    assert bucket_region("", locations) == "us-east-1"
