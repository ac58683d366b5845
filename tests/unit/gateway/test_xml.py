import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone

import pytest

from gateway.s3 import errors
from gateway.s3.xml import (
    S3_NAMESPACE,
    Element,
    child_text,
    document,
    element,
    http_date,
    iso8601,
    optional,
    parse,
    parse_location_constraint,
)


def test_document_has_declaration_namespace_and_escaped_text():
    body = document(
        Element(
            "ListBucketResult",
            children=[
                element("Name", "bkt"),
                element("Prefix", "a<b&c>"),
                optional("Marker", None),
                element("IsTruncated", False),
                element("MaxKeys", 1000),
                element("Contents", None, element("Key", "k\"'"), element("Size", 3)),
            ],
        )
    )
    assert body.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult xmlns="')
    root = ET.fromstring(body)
    ns = {"s3": S3_NAMESPACE}
    assert root.tag == f"{{{S3_NAMESPACE}}}ListBucketResult"
    assert root.findtext("s3:Prefix", namespaces=ns) == "a<b&c>"
    assert root.find("s3:Marker", ns) is None
    assert root.findtext("s3:IsTruncated", namespaces=ns) == "false"
    assert root.findtext("s3:Contents/s3:Key", namespaces=ns) == "k\"'"


def test_empty_element_renders_open_and_close():
    assert b"<Prefix></Prefix>" in document(Element("R", children=[Element("Prefix", "")]))


def test_parse_location_constraint():
    body = (
        b'<CreateBucketConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        b"<LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>"
    )
    assert parse_location_constraint(body) == "eu-west-1"
    assert parse_location_constraint(b"") is None
    assert parse_location_constraint(b"<CreateBucketConfiguration/>") is None


@pytest.mark.parametrize(
    "body",
    [
        b"<CreateBucketConfiguration>",
        b"not xml",
        b"<Other><LocationConstraint>x</LocationConstraint></Other>",
        b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
        b"<CreateBucketConfiguration><LocationConstraint>&lol2;</LocationConstraint></CreateBucketConfiguration>",
    ],
)
def test_malformed_bodies_raise_malformed_xml(body):
    with pytest.raises(errors.MalformedXML):
        parse_location_constraint(body)


def test_parse_strips_namespaces():
    root = parse(
        b'<Delete xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Object><Key>a</Key></Object></Delete>',
        "Delete",
    )
    assert child_text(root.find("Object"), "Key") == "a"
    assert child_text(root, "Quiet") is None


def test_iso8601_has_milliseconds_and_z():
    moment = datetime(2026, 1, 1, 0, 0, 0, 123456, tzinfo=UTC)
    assert iso8601(moment) == "2026-01-01T00:00:00.123Z"
    assert (
        iso8601(datetime(2026, 1, 1, 2, 0, tzinfo=timezone(timedelta(hours=2)))) == "2026-01-01T00:00:00.000Z"
    )
    assert iso8601(1767225600.5) == "2026-01-01T00:00:00.500Z"


def test_http_date():
    assert http_date(datetime(2026, 1, 1, tzinfo=UTC)) == "Thu, 01 Jan 2026 00:00:00 GMT"
    assert http_date(1767225600.9) == "Thu, 01 Jan 2026 00:00:00 GMT"
