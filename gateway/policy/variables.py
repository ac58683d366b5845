"""Policy variables (``${aws:username}``, ``${s3:prefix}``, ``${*}``...), Version 2012-10-17 only.

A resource or string condition value holding variables is kept as parts (text and variables) and
filled from the request's condition keys when evaluated; the regular expression of a filled-in
pattern is cached, so repeated requesters do not compile again. A variable whose key the request
lacks (and that has no default, ``${aws:username, 'none'}``) makes the pattern match nothing.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from gateway.policy.patterns import wildcard_regex_source

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULT = re.compile(r"\s*([^,\s]+)\s*,\s*'([^']*)'\s*\Z")
_SPECIALS = {"*": "*", "?": "?", "$": "$"}


@dataclass(frozen=True)
class Variable:
    key: str  # lower-cased condition key, or the special character for ${*} ${?} ${$}
    default: str | None = None
    special: bool = False


Part = str | Variable


def has_variables(text: str) -> bool:
    return _VARIABLE.search(text) is not None


def parse_template(text: str) -> tuple[Part, ...]:
    parts: list[Part] = []
    position = 0
    for match in _VARIABLE.finditer(text):
        if match.start() > position:
            parts.append(text[position : match.start()])
        inner = match.group(1).strip()
        if inner in _SPECIALS:
            parts.append(Variable(_SPECIALS[inner], special=True))
        elif (with_default := _DEFAULT.match(inner)) is not None:
            parts.append(Variable(with_default.group(1).lower(), with_default.group(2)))
        else:
            parts.append(Variable(inner.lower()))
        position = match.end()
    if position < len(text):
        parts.append(text[position:])
    return tuple(parts)


def render(
    parts: Sequence[Part],
    context: Mapping[str, Sequence[str]],
    text: Callable[[str], str],
    value: Callable[[str], str],
) -> str | None:
    """The template filled in: policy text through ``text``, request values through ``value``."""
    rendered: list[str] = []
    for part in parts:
        if isinstance(part, str):
            rendered.append(text(part))
            continue
        if part.special:
            rendered.append(value(part.key))
            continue
        values = context.get(part.key)
        if values is not None and len(values) == 1:
            rendered.append(value(values[0]))
        elif part.default is not None:
            rendered.append(value(part.default))
        else:
            return None
    return "".join(rendered)


@functools.lru_cache(maxsize=4096)
def compiled_regex(source: str, ignore_case: bool = False) -> re.Pattern[str]:
    return re.compile(source, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def pattern_matches(parts: Sequence[Part], context: Mapping[str, Sequence[str]], candidate: str) -> bool:
    """A wildcard pattern with variables (a Resource, a StringLike value) against ``candidate``."""
    source = render(parts, context, wildcard_regex_source, re.escape)
    return source is not None and compiled_regex(source).fullmatch(candidate) is not None


def literal(parts: Sequence[Part], context: Mapping[str, Sequence[str]]) -> str | None:
    """A literal value with variables (a StringEquals value) filled in."""
    return render(parts, context, str, str)
