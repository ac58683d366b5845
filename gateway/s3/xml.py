"""S3 XML: building response documents, parsing request bodies safely, S3 timestamp formats.

Responses are built with :class:`Element` (a tiny builder that escapes text) and
serialized with :func:`to_bytes`. Request bodies are parsed by :func:`parse`,
which refuses DTDs and entities (no expansion attacks) and raises MalformedXML.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.parsers import expat
from xml.sax.saxutils import escape

from gateway.s3.errors import MalformedXML

S3_NAMESPACE = "http://s3.amazonaws.com/doc/2006-03-01/"
XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
MAX_REQUEST_XML_BYTES = 2 * 1024 * 1024  # DeleteObjects with 1000 long keys stays well below this


class Element:
    """An XML element with text or children; ``None`` children are skipped so optional fields read simply."""

    __slots__ = ("tag", "text", "children", "attributes")

    def __init__(
        self,
        tag: str,
        text: str | int | bool | None = None,
        children: Iterable[Element | None] = (),
        attributes: dict[str, str] | None = None,
    ) -> None:
        self.tag = tag
        self.text = _text(text)
        self.children = [child for child in children if child is not None]
        self.attributes = attributes or {}

    def add(self, *children: Element | None) -> Element:
        self.children.extend(child for child in children if child is not None)
        return self

    def render(self, parts: list[str]) -> None:
        attributes = "".join(
            f' {name}="{escape(value, {chr(34): "&quot;"})}"' for name, value in self.attributes.items()
        )
        if self.text is None and not self.children:
            parts.append(
                f"<{self.tag}{attributes}/>" if attributes else f"<{self.tag}{attributes}></{self.tag}>"
            )
            return
        parts.append(f"<{self.tag}{attributes}>")
        if self.text is not None:
            parts.append(escape(self.text))
        for child in self.children:
            child.render(parts)
        parts.append(f"</{self.tag}>")


def element(tag: str, text: str | int | bool | None = None, *children: Element | None) -> Element:
    return Element(tag, text, children)


def optional(tag: str, value: str | int | bool | None) -> Element | None:
    """An element only when ``value`` is set (S3 omits absent optional fields)."""
    return None if value is None else Element(tag, value)


def document(root: Element, namespace: str | None = S3_NAMESPACE) -> bytes:
    """A whole response body: declaration plus ``root`` carrying the S3 namespace."""
    if namespace and "xmlns" not in root.attributes:
        root.attributes = {"xmlns": namespace, **root.attributes}
    parts = [XML_DECLARATION]
    root.render(parts)
    return "".join(parts).encode("utf-8")


def to_bytes(root: Element) -> bytes:
    return document(root)


def _text(value: str | int | bool | None) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# --- parsing -------------------------------------------------------------------------------------


class _Refused(Exception):
    """The body declares a DTD, an entity or a non-UTF-8 encoding."""


def parse(body: bytes, expected_root: str | None = None) -> ET.Element:
    """Parses a request body; namespaces are stripped from tags so callers match plain names.

    Only UTF-8 is accepted (as S3 does), and the parser itself refuses any document type or entity
    declaration, so no encoding trick can smuggle one past it and nothing is ever expanded.
    """
    if len(body) > MAX_REQUEST_XML_BYTES:
        raise MalformedXML()
    try:
        body.decode("utf-8")
        root = _parse_utf8(body)
    except (UnicodeDecodeError, expat.ExpatError, _Refused):
        raise MalformedXML() from None
    if expected_root is not None and root.tag != expected_root:
        raise MalformedXML()
    return root


def _parse_utf8(body: bytes) -> ET.Element:
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate("UTF-8", "}")  # "}": expanded names are "uri}local"; we keep "local"

    def refuse(*_: object) -> int:
        raise _Refused()

    def xml_declaration(version: str | None, encoding: str | None, standalone: int) -> None:
        if encoding is not None and encoding.lower() not in ("utf-8", "utf8"):
            raise _Refused()

    def start(tag: str, attributes: dict[str, str]) -> None:
        builder.start(tag.rsplit("}", 1)[-1], attributes)

    def end(tag: str) -> None:
        builder.end(tag.rsplit("}", 1)[-1])

    parser.XmlDeclHandler = xml_declaration
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.UnparsedEntityDeclHandler = refuse
    parser.NotationDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = builder.data
    parser.buffer_text = True
    parser.Parse(body, True)
    return builder.close()


def child_text(node: ET.Element, tag: str, default: str | None = None) -> str | None:
    found = node.find(tag)
    if found is None:
        return default
    return found.text or ""


def parse_location_constraint(body: bytes) -> str | None:
    """The LocationConstraint of a CreateBucket body; None for an empty body or an empty constraint."""
    if not body.strip():
        return None
    root = parse(body, "CreateBucketConfiguration")
    value = child_text(root, "LocationConstraint")
    return value.strip() if value and value.strip() else None


# --- time formats --------------------------------------------------------------------------------


def iso8601(moment: datetime | float | int) -> str:
    """``2026-01-01T00:00:00.000Z``: the timestamp form of S3 XML bodies."""
    value = _utc(moment)
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def http_date(moment: datetime | float | int) -> str:
    """``Thu, 01 Jan 2026 00:00:00 GMT``: Last-Modified and other date headers."""
    return format_datetime(_utc(moment).replace(microsecond=0), usegmt=True)


def _utc(moment: datetime | float | int) -> datetime:
    if isinstance(moment, datetime):
        return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)
    return datetime.fromtimestamp(moment, UTC)
