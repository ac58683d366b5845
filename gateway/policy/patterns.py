"""Policy wildcards (``*`` any run of characters, ``?`` one character), compiled once per document.

A set of patterns answers ``matches(value)`` with a set look-up for the literal patterns and one
pre-compiled regular expression for the wildcard ones, so a request never compiles anything.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass


def has_wildcard(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def wildcard_regex_source(pattern: str) -> str:
    return "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)


def compile_wildcard(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    return re.compile(wildcard_regex_source(pattern), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


@dataclass(frozen=True)
class PatternSet:
    """Literal and wildcard patterns; ``ignore_case`` sets fold the literals and the value to lower case."""

    literals: frozenset[str]
    wildcards: re.Pattern[str] | None
    match_all: bool
    ignore_case: bool

    @classmethod
    def of(cls, patterns: Iterable[str], ignore_case: bool = False) -> PatternSet:
        literals: set[str] = set()
        wildcard_sources: list[str] = []
        match_all = False
        for pattern in patterns:
            if pattern == "*":
                match_all = True
            elif has_wildcard(pattern):
                wildcard_sources.append(wildcard_regex_source(pattern))
            else:
                literals.add(pattern.lower() if ignore_case else pattern)
        regex = None
        if wildcard_sources:
            flags = re.DOTALL | (re.IGNORECASE if ignore_case else 0)
            regex = re.compile("|".join(f"(?:{source})" for source in wildcard_sources), flags)
        return cls(frozenset(literals), regex, match_all, ignore_case)

    def matches(self, value: str) -> bool:
        if self.match_all:
            return True
        if (value.lower() if self.ignore_case else value) in self.literals:
            return True
        return self.wildcards is not None and self.wildcards.fullmatch(value) is not None
