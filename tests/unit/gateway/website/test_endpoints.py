"""Which hosts are website requests (gateway/website/endpoints.py)."""

from __future__ import annotations

from gateway.website.endpoints import website_bucket

ENDPOINTS = ("s3-website.localhost", "s3-website-us-east-1.amazonaws.com")


def test_a_host_under_a_website_endpoint_names_its_bucket() -> None:
    assert website_bucket("blog.s3-website.localhost:8000", ENDPOINTS, False) == "blog"
    assert website_bucket("www.example.com.s3-website-us-east-1.amazonaws.com", ENDPOINTS, False) == (
        "www.example.com"
    )


def test_other_hosts_are_not_website_requests_off_the_website_port() -> None:
    assert website_bucket("blog.localhost:8000", ENDPOINTS, False) is None
    assert website_bucket("127.0.0.1:8000", ENDPOINTS, False) is None
    assert website_bucket(None, ENDPOINTS, False) is None


def test_on_the_website_port_the_first_label_is_the_bucket() -> None:
    assert website_bucket("blog.example.test:8005", ENDPOINTS, True) == "blog"
    assert website_bucket("blog.s3-website.localhost", ENDPOINTS, True) == "blog"
    assert website_bucket("127.0.0.1:8005", ENDPOINTS, True) == ""
    assert website_bucket("[::1]:8005", ENDPOINTS, True) == ""
