"""Where a website request goes: the pure part of serving (no I/O), unit-tested alone.

Routing rules are tried in order and the first whose condition holds redirects. A rule with an
``HttpErrorCodeReturnedEquals`` condition can only hold once the request has failed with that
status, so rules are asked twice: before the object is read (``error_code`` None: only rules
without an error condition can match) and after an error (that error's status).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from gateway.website.config import DEFAULT_REDIRECT_CODE, RedirectAll, RoutingRule, WebsiteConfig


@dataclass(frozen=True)
class RedirectTo:
    location: str
    status: int = DEFAULT_REDIRECT_CODE


def index_key(key: str, config: WebsiteConfig) -> str:
    """The object a request for ``key`` serves: a folder (``""`` or ending in ``/``) serves its index."""
    if config.index_suffix and (key == "" or key.endswith("/")):
        return key + config.index_suffix
    return key


def redirect_all(rule: RedirectAll, key: str, request_scheme: str) -> RedirectTo:
    protocol = rule.protocol or request_scheme
    return RedirectTo(f"{protocol}://{rule.host_name}/{_quote(key)}")


def matching_rule(
    rules: tuple[RoutingRule, ...], key: str, error_code: int | None = None
) -> RoutingRule | None:
    """The first rule whose condition holds for a request of ``key`` that answered ``error_code``."""
    for rule in rules:
        condition = rule.condition
        if condition is None:
            if error_code is None:
                return rule
            continue
        if condition.key_prefix_equals is not None and not key.startswith(condition.key_prefix_equals):
            continue
        if condition.http_error_code_returned_equals != error_code:
            continue
        return rule
    return None


def rule_redirect(rule: RoutingRule, key: str, request_scheme: str, request_host: str) -> RedirectTo:
    """Where ``rule`` sends a request of ``key`` (made with ``request_scheme`` to ``request_host``)."""
    redirect = rule.redirect
    if redirect.replace_key_with is not None:
        target = redirect.replace_key_with
    elif redirect.replace_key_prefix_with is not None:
        matched = rule.condition.key_prefix_equals if rule.condition is not None else None
        prefix = matched or ""
        target = redirect.replace_key_prefix_with + key[len(prefix) :]
    else:
        target = key
    protocol = redirect.protocol or request_scheme
    host = redirect.host_name or request_host
    return RedirectTo(
        f"{protocol}://{host}/{_quote(target)}", redirect.http_redirect_code or DEFAULT_REDIRECT_CODE
    )


def _quote(key: str) -> str:
    return quote(key, safe="/~!$&'()*+,;=:@")
