"""Every answer is sent with a strict Content-Security-Policy and the usual headers:
pages, htmx fragments, feeds, the data export, refusals and errors, the admin, a copy
from the readers' cache and a 304; and in production, HSTS and cookies that are Secure,
HttpOnly and SameSite."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from forum.models import ModerationPolicy
from tests.conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]

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


# --- Every kind of response ------------------------------------------------------------------
# Pages, htmx fragments, feeds, the data export, error pages, the admin, a page served from
# the readers' cache and a 304 are made by different code; each must carry the headers.

SECTION = "/essays/open-source-meets-open-weights/the-deepseek-moment/"


def assert_hardened(response):
    """The headers every answer carries, whatever made it."""
    headers = response.headers
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Cross-Origin-Opener-Policy"] == "same-origin"
    assert "camera=()" in headers["Permissions-Policy"]
    directives = csp_directives(response)
    assert directives["frame-ancestors"] == "'none'"
    assert directives["object-src"] == "'none'"
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert "unsafe-eval" not in headers["Content-Security-Policy"]
    # A nonce in the page must be this response's own (never one stored with a copy).
    body = b"" if response.streaming else response.content
    header_nonces = set(re.findall(r"'nonce-([\w+/=-]+)'", directives["script-src"]))
    for nonce in re.findall(rb'nonce="([^"]+)"', body):
        assert nonce.decode() in header_nonces


@pytest.fixture
def comment(ann, post):
    return post(ann, "Ann's comment.")


def test_an_htmx_fragment_is_hardened_and_varies_on_htmx(client, ben, comment):
    client.force_login(ben)

    response = client.get(f"/comments/{comment.pk}/reply/", headers={"HX-Request": "true"})

    assert response.status_code == 200
    assert "<html" not in response.text  # a fragment, not the page
    assert_hardened(response)


def test_the_feeds_are_hardened(client, comment):
    for url in ("/essays/open-source-meets-open-weights/feed.atom", f"{SECTION}feed.atom"):
        response = client.get(url)

        assert response.status_code == 200
        assert response.headers["Content-Type"].startswith("application/atom+xml")
        assert_hardened(response)


def test_the_data_export_is_a_download_kept_out_of_caches(client, ann, comment):
    client.force_login(ann)

    response = client.get("/accounts/export/")

    assert response.status_code == 200
    assert response.headers["Content-Type"] == "application/json"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    assert "no-store" in response.headers["Cache-Control"]
    assert_hardened(response)


def test_refusals_and_errors_are_hardened(client, ann, ben, comment):
    client.force_login(ann)
    policy = ModerationPolicy.current()
    policy.comments_per_minute = policy.new_comments_per_minute = 1
    policy.save()
    answers = {
        404: client.get("/essays/missing/"),
        403: client.post(f"/comments/{comment.pk}/vote/"),  # one's own comment
        400: client.post(f"/comments/{comment.pk}/follow/", {"follow": "maybe"}),
        429: client.post(f"{SECTION}comments/", {"body": "Over the limit."}),
    }

    for status, response in answers.items():
        assert response.status_code == status
        assert_hardened(response)
    assert "Retry-After" in answers[429].headers


def test_a_request_for_another_host_is_refused_hardened(client, db):
    response = client.get(SECTION, headers={"Host": "evil.example"})  # not an allowed host

    assert response.status_code == 400
    assert_hardened(response)


def test_the_500_page_is_hardened(client, db, settings):
    settings.ROOT_URLCONF = "tests.config.raising_urls"
    client.raise_request_exception = False

    response = client.get("/broken/")

    assert response.status_code == 500
    assert "Content-Security-Policy" in response.headers
    assert_hardened(response)


def test_the_admin_is_hardened(client, mo):
    client.force_login(mo)

    for url in ("/admin/", "/admin/forum/comment/", "/admin/forum/reviewitem/desk/"):
        response = client.get(url)

        assert response.status_code == 200
        assert_hardened(response)


def test_a_cached_copy_and_a_304_are_hardened(
    client, comment, reader_cache, django_assert_max_num_queries
):
    first = client.get(SECTION)
    with django_assert_max_num_queries(0):
        copy = client.get(SECTION)  # from the readers' page cache
    unchanged = client.get(SECTION, headers={"If-None-Match": first.headers["ETag"]})

    assert first.headers["ETag"] == copy.headers["ETag"]
    assert copy.content == first.content
    assert unchanged.status_code == 304
    for response in (first, copy, unchanged):
        assert_hardened(response)


# --- Production settings: HTTPS only, cookies that stay there ---------------------------------

PRODUCTION_SETTINGS = """
import json, django
from django.conf import settings
django.setup()
names = ["SECURE_SSL_REDIRECT", "SECURE_HSTS_SECONDS", "SESSION_COOKIE_SECURE",
         "CSRF_COOKIE_SECURE", "SESSION_COOKIE_HTTPONLY", "CSRF_COOKIE_HTTPONLY",
         "SESSION_COOKIE_SAMESITE", "CSRF_COOKIE_SAMESITE", "DEBUG"]
print(json.dumps({name: getattr(settings, name) for name in names}))
"""


def production_settings():
    """The security settings as .env.example's production configuration makes them."""
    env = {"PATH": os.environ["PATH"], "DJANGO_SETTINGS_MODULE": "config.settings"}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, _, value = line.partition("=")
            env[name.strip()] = value.strip()
    env["SECRET_KEY"] = "production-like-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"
    result = subprocess.run(
        [sys.executable, "-c", PRODUCTION_SETTINGS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(result.stdout)


def test_production_sends_hsts_and_keeps_cookies_secure_httponly_and_same_site(
    client, settings, essay, ann
):
    production = production_settings()
    assert production["DEBUG"] is False
    assert production["SECURE_HSTS_SECONDS"] >= 31536000
    for name, value in production.items():
        setattr(settings, name, value)

    plain = client.get(SECTION)
    page = client.get(SECTION, secure=True)
    signed_in = client.post("/accounts/login/", {"login": "ann", "password": PASSWORD}, secure=True)

    assert plain.status_code == 301
    assert plain.headers["Location"].startswith("https://")
    assert page.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert signed_in.status_code == 302
    for name in ("sessionid", "csrftoken"):
        cookie = signed_in.cookies[name]
        assert cookie["secure"] is True, name
        assert cookie["httponly"] is True, name
        assert cookie["samesite"] == "Lax", name
