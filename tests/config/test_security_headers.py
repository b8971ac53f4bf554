"""Every page is sent with a strict Content-Security-Policy and the usual headers."""

import re

import pytest

pytestmark = pytest.mark.django_db


@pytest.fixture
def page(client, essay):
    return client.get("/essays/open-source-meets-open-weights/the-deepseek-moment/")


def csp_directives(response):
    policy = response.headers["Content-Security-Policy"]
    parts = (directive.strip().partition(" ") for directive in policy.split(";"))
    return {name: values for name, _, values in parts}


def test_the_policy_allows_only_this_site_and_nonced_inline_code(page):
    directives = csp_directives(page)

    assert directives["default-src"] == "'self'"
    # Django adds the request's nonce only to pages that use one; these use none.
    assert re.fullmatch(r"'self'( 'nonce-[\w+/=-]+')?", directives["script-src"])
    assert re.fullmatch(r"'self'( 'nonce-[\w+/=-]+')?", directives["style-src"])
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert directives["base-uri"] == "'none'"
    assert "unsafe-inline" not in page.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in page.headers["Content-Security-Policy"]


def test_pages_use_no_inline_script_or_style_and_nothing_from_other_sites(page):
    html = page.text

    scripts = re.findall(r"<script\b([^>]*)>(.*?)</script>", html, re.S)
    assert scripts, "the page loads its scripts"
    for attributes, code in scripts:
        # Either a file from this site, or inline code carrying the request's nonce.
        assert re.search(r'src="/static/', attributes) or "nonce=" in attributes, attributes
        assert not code.strip() or "nonce=" in attributes
    assert "<style" not in html
    assert " style=" not in html
    assert re.findall(r'(?:src|href|action)="(https?:)?//', html) == []


def test_the_usual_security_headers_are_set(page):
    assert page.headers["X-Frame-Options"] == "DENY"
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    assert page.headers["Referrer-Policy"] == "same-origin"
    assert page.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in page.headers["Permissions-Policy"]


def test_error_pages_carry_the_policy_too(client, db):
    response = client.get("/essays/missing/")

    assert response.status_code == 404
    assert "Content-Security-Policy" in response.headers


def test_static_files_are_served_by_the_app_with_long_cache_headers(client, page):
    stylesheet = re.search(r'href="(/static/css/site\.[0-9a-f]+\.css)"', page.text).group(1)

    response = client.get(stylesheet)
    body = b"".join(response.streaming_content)
    response.close()

    assert response.status_code == 200
    assert b"--font-text" in body
    assert "max-age=315360000" in response.headers["Cache-Control"]
