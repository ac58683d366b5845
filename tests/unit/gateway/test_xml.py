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


ENTITY_BODY = (
    '<!DOCTYPE t [<!ENTITY x "expanded">]><Tagging><TagSet><Tag><Key>k</Key><Value>&x;</Value></Tag>'
    "</TagSet></Tagging>"
)


@pytest.mark.parametrize(
    "body",
    [
        ENTITY_BODY.encode("utf-16"),
        ENTITY_BODY.encode("utf-16-le"),
        ENTITY_BODY.encode("utf-32"),
        ENTITY_BODY.encode("utf-8"),
        b'<!DOCTYPE t SYSTEM "file:///etc/passwd"><Tagging/>',
        b'<!DOCTYPE t [<!ENTITY % p SYSTEM "http://127.0.0.1/x"> %p;]><Tagging/>',
        b"<Tagging>&undefined;</Tagging>",
        b'<?xml version="1.0" encoding="ISO-8859-1"?><Tagging><TagSet/></Tagging>',
        b'<?xml version="1.0" encoding="UTF-16"?><Tagging><TagSet/></Tagging>',
        b"<Tagging><TagSet><Tag><Key>\xe9</Key></Tag></TagSet></Tagging>",  # latin-1 bytes, not UTF-8
    ],
    ids=[
        "utf16",
        "utf16le",
        "utf32",
        "utf8",
        "external",
        "parameter",
        "undefined",
        "latin1",
        "utf16-declared",
        "bad-utf8",
    ],
)
def test_parse_refuses_dtds_entities_and_non_utf8(body: bytes) -> None:
    with pytest.raises(errors.MalformedXML):
        parse(body, "Tagging")


def test_parse_accepts_utf8_with_declaration_bom_and_predefined_entities() -> None:
    body = (
        '\ufeff<?xml version="1.0" encoding="utf-8"?><Tagging xmlns="http://s3.amazonaws.com/doc/2006-03-01/">'
        "<TagSet><Tag><Key>a &amp; b &#233;</Key><Value>日本</Value></Tag></TagSet></Tagging>"
    ).encode("utf-8")
    root = parse(body, "Tagging")
    assert child_text(root.find("TagSet/Tag"), "Key") == "a & b é"
    assert child_text(root.find("TagSet/Tag"), "Value") == "日本"


def test_parse_keeps_prefixed_namespace_tags_plain() -> None:
    root = parse(
        b'<s3:Delete xmlns:s3="urn:x"><s3:Object><s3:Key>k</s3:Key></s3:Object></s3:Delete>', "Delete"
    )
    assert child_text(root.find("Object"), "Key") == "k"


def test_gateway_parses_request_xml_only_through_the_xml_module() -> None:
    """Every XML body (tagging, versioning, DeleteObjects, CompleteMultipartUpload, ...) goes through parse()."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[3] / "gateway"
    parsers = re.compile(
        r"\b(fromstring|XMLParser|ParserCreate|minidom|lxml|sax\.parse|ET\.parse|iterparse)\b"
    )
    offenders = [
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "xml.py" and parsers.search(path.read_text())
    ]
    assert offenders == []
