"""What .ci/compose-smoke asks of the running stack, as a browser would: over HTTPS
through Caddy, to 127.0.0.1 only. Standard library only, so the host's python3 runs it.

    smoke_checks.py pages             pages, /healthz, static files, HTTP -> HTTPS
    smoke_checks.py admin             sign in as the administrator from .env, set up the
                                      second factor, open the admin
    smoke_checks.py comment TEXT      post a comment as the administrator
    smoke_checks.py still-there TEXT  signed in still, the comment still shown
    smoke_checks.py gone TEXT         the comment is not shown (after a restore)
    smoke_checks.py plain-http        the stack without a DOMAIN: plain HTTP on HTTP_PORT

Settings come from the environment (see .ci/compose-smoke); the session's cookies are
kept in SMOKE_STATE between calls.
"""

import base64
import hashlib
import hmac
import html
import http.client
import json
import os
import re
import socket
import ssl
import struct
import sys
import time
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode, urlsplit

HOST = "localhost"  # the DOMAIN of the smoke stack; every connection goes to 127.0.0.1
HTTPS_PORT = int(os.environ["SMOKE_HTTPS_PORT"])
HTTP_PORT = int(os.environ["SMOKE_HTTP_PORT"])
STATE = Path(os.environ["SMOKE_STATE"])
ADMIN_URL = "/" + os.environ["ADMIN_URL"].strip("/") + "/"
ESSAY = "/essays/open-source-meets-open-weights/"
SECTION = ESSAY + "the-deepseek-moment/"


class Failed(Exception):
    pass


def expect(condition, message):
    if not condition:
        raise Failed(message)


class To127(http.client.HTTPSConnection):
    """HTTPS to 127.0.0.1, with the site's name for SNI, the certificate and Host."""

    def connect(self):
        sock = socket.create_connection(("127.0.0.1", self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


class Page:
    def __init__(self, status, headers, body, url):
        self.status, self.headers, self.body, self.url = status, headers, body, url
        self.text = body.decode("utf-8", "replace")

    def header(self, name):
        return self.headers.get(name.lower(), "")


class Browser:
    """HTTPS to DOMAIN=localhost through Caddy; or, with plain=True, HTTP to
    127.0.0.1 (the stack without a DOMAIN)."""

    def __init__(self, plain=False):
        self.plain = plain
        if plain:
            self.origin = f"http://127.0.0.1:{HTTP_PORT}"
            self.cookies = {}
        else:
            self.origin = f"https://{HOST}:{HTTPS_PORT}"
            self.context = ssl.create_default_context(cafile=os.environ["SMOKE_CA"])
            self.cookies = json.loads(STATE.read_text()) if STATE.exists() else {}

    def save(self):
        STATE.write_text(json.dumps(self.cookies))

    def request(self, method, path, form=None, headers=None):
        if self.plain:
            connection = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=30)
        else:
            connection = To127(HOST, HTTPS_PORT, context=self.context, timeout=30)
        sent = {"Accept": "text/html,*/*", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        body = None
        if form is not None:
            body = urlencode(form).encode()
            sent |= {
                "Content-Type": "application/x-www-form-urlencoded",
                "Origin": self.origin,
                "Referer": self.origin + path,
            }
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        headers = {}
        for name, value in response.getheaders():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
            if name == "set-cookie":
                cookie, _, attributes = value.partition(";")
                key, _, val = cookie.strip().partition("=")
                if val and "max-age=0" not in attributes.lower():
                    self.cookies[key] = val
                else:
                    self.cookies.pop(key, None)
        page = Page(response.status, headers, response.read(), path)
        connection.close()
        return page

    def get(self, path, **kwargs):
        return self.follow(self.request("GET", path, **kwargs))

    def post(self, path, form):
        return self.follow(self.request("POST", path, form=form))

    def follow(self, page):
        for _ in range(10):
            if page.status not in (301, 302, 303, 307, 308):
                return page
            location = urlsplit(page.header("location"))
            expect(
                location.netloc in ("", urlsplit(self.origin).netloc),
                f"{page.url} redirected off the site: {page.header('location')}",
            )
            target = location.path + (f"?{location.query}" if location.query else "")
            page = self.request("GET", target)
        raise Failed(f"too many redirects from {page.url}")


class Forms(HTMLParser):
    """Each form's action and the values its fields would send."""

    def __init__(self, text):
        super().__init__()
        self.forms, self.inputs, self._textarea = [], {}, None
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self.forms.append(
                {"action": attrs.get("action", ""), "id": attrs.get("id"), "data": {}}
            )
        elif tag == "input":
            if attrs.get("id"):
                self.inputs[attrs["id"]] = attrs.get("value", "")
            if self.forms and attrs.get("name") and attrs.get("type") not in ("submit", "button"):
                self.forms[-1]["data"][attrs["name"]] = attrs.get("value") or ""
        elif tag == "textarea" and self.forms and attrs.get("name"):
            self._textarea = attrs["name"]
            self.forms[-1]["data"][self._textarea] = ""

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None

    def find(self, test):
        for form in self.forms:
            if test(form):
                return form
        raise Failed(f"no such form among {[f['action'] for f in self.forms]}")


def totp(secret):
    """The current six-digit code for a base32 TOTP secret (RFC 6238), from a 30-second
    step with time left to send it: the deployment accepts the current step's code only
    (allauth's MFA_TOTP_TOLERANCE, 0), so a code made in a step's last seconds could
    arrive in the next one and be refused."""
    if (left := 30 - time.time() % 30) < 5:
        time.sleep(left)
    key = base64.b32decode(secret.upper() + "=" * (-len(secret) % 8))
    digest = hmac.new(key, struct.pack(">Q", int(time.time()) // 30), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    return f"{(struct.unpack('>I', digest[offset : offset + 4])[0] & 0x7FFFFFFF) % 1_000_000:06d}"


def signed_in_as(page):
    """Whose name the header shows (the link to one's own profile)."""
    match = re.search(r'<a class="site-nav__name" href="/people/([^/"]+)/"', page.text)
    return match and match.group(1)


def when_caddy_serves(browser, seconds=90):
    """The first answer through Caddy. `up --wait` waits for the services with a health
    check; Caddy has none (its image has no tool to ask itself), and on a loaded machine
    it may still be making its certificate: ask again until it answers."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return browser.request("GET", "/healthz")
        except (OSError, http.client.HTTPException) as error:  # ssl.SSLError is an OSError
            if time.monotonic() > deadline:
                raise SystemExit(f"smoke check failed: Caddy never answered: {error}") from None
            time.sleep(2)


def check_pages():
    browser = Browser()
    health = when_caddy_serves(browser)
    expect((health.status, health.text) == (200, "ok\n"), f"/healthz: {health.status}")

    home = browser.get("/")
    expect(home.status == 200, f"home page: {home.status}")
    expect("Open Source Meets Open Weights" in home.text, "the bundled essay is on the home page")
    expect(home.header("server") == "Caddy", f"served through Caddy: {home.header('server')!r}")
    # Django sent HSTS, so it saw the request as HTTPS through X-Forwarded-Proto.
    expect("max-age=" in home.header("strict-transport-security"), "HSTS from Django")

    section = browser.get(SECTION)
    expect(section.status == 200, f"section page: {section.status}")
    expect("The DeepSeek Moment" in html.unescape(section.text), "the section's heading")

    stylesheet = re.search(r'href="(/static/[^"]+\.css)"', home.text)
    expect(stylesheet, "the home page links a stylesheet")
    css = browser.request("GET", stylesheet.group(1), headers={"Accept-Encoding": "gzip"})
    expect(css.status == 200, f"{stylesheet.group(1)}: {css.status}")
    expect("immutable" in css.header("cache-control"), "hashed static files are cached for good")
    expect(css.header("content-encoding") in ("gzip", "zstd"), "compressed static files")

    sign_in = browser.get("/accounts/login/")
    expect(sign_in.status == 200, f"sign-in page: {sign_in.status}")
    expect("csrfmiddlewaretoken" in sign_in.text, "the sign-in form")

    plain = http.client.HTTPConnection("127.0.0.1", HTTP_PORT, timeout=30)
    plain.request("GET", "/", headers={"Host": HOST})
    redirect = plain.getresponse()
    expect(
        redirect.status in (301, 308)
        and redirect.getheader("location", "").startswith(f"https://{HOST}"),
        f"plain HTTP redirects to HTTPS: {redirect.status} {redirect.getheader('location')}",
    )


def check_admin():
    browser = Browser()
    username, password = os.environ["ADMIN_USERNAME"], os.environ["ADMIN_PASSWORD"]
    form = Forms(browser.get("/accounts/login/").text).find(lambda f: "login" in f["data"])
    form["data"] |= {"login": username, "password": password}
    home = browser.post("/accounts/login/", form["data"])
    expect(signed_in_as(home) == username, f"signed in as {username}: {home.url}")

    # STAFF_REQUIRE_2FA=true, as in .env.example: the admin first asks for a second factor.
    setup = browser.get(ADMIN_URL)
    expect(setup.url == "/accounts/2fa/", f"the admin asks for two-factor setup: {setup.url}")
    expect("Set up two-factor authentication" in setup.text, "the admin says why")

    activate = browser.get("/accounts/2fa/totp/activate/")
    if activate.url.startswith("/accounts/reauthenticate/"):  # adding a factor asks again
        form = Forms(activate.text).find(lambda f: "password" in f["data"])
        form["data"]["password"] = password
        activate = browser.post(activate.url, form["data"])
    forms = Forms(activate.text)
    secret = forms.inputs.get("authenticator_secret")
    expect(secret, f"the TOTP secret on {activate.url}")
    form = forms.find(lambda f: "code" in f["data"])
    form["data"]["code"] = totp(secret)
    browser.post("/accounts/2fa/totp/activate/", form["data"])

    confirm = browser.get(ADMIN_URL)
    expect("reauthenticate" in confirm.url, f"the admin asks for the code: {confirm.url}")
    form = Forms(confirm.text).find(lambda f: "code" in f["data"])
    form["data"]["code"] = totp(secret)
    admin = browser.post(confirm.url, form["data"])
    expect(admin.url == ADMIN_URL, f"the admin opens after the second factor: {admin.url}")
    expect("Essay Forum administration" in admin.text, "the admin index")
    browser.save()


def post_comment(text):
    browser = Browser()
    page = browser.get(SECTION)
    form = Forms(page.text).find(lambda f: f["id"] == "comment-form")
    form["data"]["body"] = text
    after = browser.post(form["action"], form["data"])
    expect(after.status == 200 and text in after.text, f"the comment is shown: {after.url}")
    browser.save()


def check_still_there(text):
    browser = Browser()
    home = browser.get("/")
    expect(signed_in_as(home) == os.environ["ADMIN_USERNAME"], "the session survived")
    expect(text in browser.get(SECTION).text, "the comment survived")
    expect(browser.get(ADMIN_URL).url == ADMIN_URL, "the admin still opens")


def check_plain_http():
    """DOMAIN empty, HTTPS=false: Caddy serves plain HTTP on HTTP_PORT, Django agrees."""
    browser = Browser(plain=True)
    health = when_caddy_serves(browser)
    expect((health.status, health.text) == (200, "ok\n"), f"/healthz: {health.status}")
    home = browser.get("/")
    expect(home.status == 200 and home.url == "/", f"home page over HTTP: {home.url}")
    expect(home.header("server") == "Caddy", "served through Caddy")
    expect("Open Source Meets Open Weights" in home.text, "the essay on the home page")
    expect(browser.get(SECTION).status == 200, "the section page")
    # A form posts over plain HTTP (CSRF_TRUSTED_ORIGINS, cookies not HTTPS-only): a
    # wrong password is answered by the form, not refused as forgery.
    form = Forms(browser.get("/accounts/login/").text).find(lambda f: "login" in f["data"])
    form["data"] |= {"login": os.environ["ADMIN_USERNAME"], "password": "not-the-password"}
    refused = browser.post("/accounts/login/", form["data"])
    expect(refused.status == 200, f"the sign-in form answers: {refused.status}")
    expect("not correct" in refused.text, "the form says the password is wrong")


def check_gone(text):
    expect(text not in Browser().get(SECTION).text, f"{text!r} is gone")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    checks = {
        "pages": check_pages,
        "admin": check_admin,
        "comment": post_comment,
        "still-there": check_still_there,
        "gone": check_gone,
        "plain-http": check_plain_http,
    }
    try:
        checks[command](*args)
    except Failed as exc:
        sys.exit(f"smoke check failed: {exc}")
    print(f"ok: {command} {' '.join(args)}".rstrip())
