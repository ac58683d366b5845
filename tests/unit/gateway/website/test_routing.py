"""Routing rule evaluation and redirect targets (gateway/website/routing.py)."""

from __future__ import annotations

from gateway.website.config import Condition, Redirect, RedirectAll, RoutingRule, WebsiteConfig
from gateway.website.routing import RedirectTo, index_key, matching_rule, redirect_all, rule_redirect

DOCS = RoutingRule(Redirect(replace_key_prefix_with="documents/"), Condition(key_prefix_equals="docs/"))
MISSING_IMAGES = RoutingRule(
    Redirect(host_name="images.example.test", http_redirect_code=302),
    Condition(key_prefix_equals="img/", http_error_code_returned_equals=404),
)
ANY_404 = RoutingRule(Redirect(replace_key_with="404.html"), Condition(http_error_code_returned_equals=404))
RULES = (DOCS, MISSING_IMAGES, ANY_404)


def test_folders_serve_their_index_document() -> None:
    config = WebsiteConfig(index_suffix="index.html")
    assert index_key("", config) == "index.html"
    assert index_key("blog/", config) == "blog/index.html"
    assert index_key("blog", config) == "blog"


def test_before_the_read_only_rules_without_an_error_condition_match() -> None:
    assert matching_rule(RULES, "docs/a.html") is DOCS
    assert matching_rule(RULES, "img/cat.png") is None
    assert matching_rule(RULES, "other.html") is None


def test_after_an_error_both_conditions_must_hold_and_the_first_match_wins() -> None:
    assert matching_rule(RULES, "img/cat.png", 404) is MISSING_IMAGES
    assert matching_rule(RULES, "page.html", 404) is ANY_404
    assert matching_rule(RULES, "img/cat.png", 403) is None
    assert matching_rule(RULES, "docs/a.html", 404) is ANY_404


def test_a_rule_without_condition_redirects_every_request_before_the_read() -> None:
    always = RoutingRule(Redirect(host_name="elsewhere.test"))
    assert matching_rule((always,), "anything") is always
    assert matching_rule((always,), "anything", 404) is None


def test_replace_key_prefix_replaces_the_matched_prefix() -> None:
    assert rule_redirect(DOCS, "docs/guide/a b.html", "http", "site.test:8000") == RedirectTo(
        "http://site.test:8000/documents/guide/a%20b.html", 301
    )


def test_replace_key_with_and_host_and_code() -> None:
    assert rule_redirect(ANY_404, "x/y", "https", "site.test") == RedirectTo(
        "https://site.test/404.html", 301
    )
    assert rule_redirect(MISSING_IMAGES, "img/cat.png", "http", "site.test") == RedirectTo(
        "http://images.example.test/img/cat.png", 302
    )


def test_replace_key_prefix_without_a_prefix_condition_prepends() -> None:
    rule = RoutingRule(
        Redirect(replace_key_prefix_with="old/"), Condition(http_error_code_returned_equals=404)
    )
    assert rule_redirect(rule, "a.html", "http", "h").location == "http://h/old/a.html"


def test_redirect_all_keeps_the_key_and_the_request_protocol_unless_set() -> None:
    assert redirect_all(RedirectAll("www.example.test"), "a/b.html", "http") == RedirectTo(
        "http://www.example.test/a/b.html", 301
    )
    assert redirect_all(RedirectAll("www.example.test", "https"), "", "http").location == (
        "https://www.example.test/"
    )
