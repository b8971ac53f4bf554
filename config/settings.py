"""Settings for Essay Forum: one file, driven by environment variables.

Every variable is documented in `.env.example`. A bad value stops start-up with a
message that names the variable, and production mode (DEBUG off, the default) has no
insecure fallbacks: it refuses to start without a real SECRET_KEY.
"""

import os
import warnings
from pathlib import Path
from urllib.parse import urlsplit

import environ
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent

TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off", ""}


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE_WORDS:
        return True
    if value in FALSE_WORDS:
        return False
    raise ImproperlyConfigured(f"{name} must be true or false (got {raw!r}).")


def env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number (got {raw!r}).") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum} (got {value}).")
    return value


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env_str(name, default).split(",") if item.strip()]


def env_url(name: str, default: str, parse):
    """Parse a URL-style variable (DATABASE_URL, CACHE_URL, EMAIL_URL, ...) with django-environ."""
    raw = env_str(name, default) or default
    try:
        with warnings.catch_warnings():
            # django-environ only warns about an unknown scheme; we refuse it below.
            warnings.simplefilter("ignore", UserWarning)
            return parse(raw)
    except (ImproperlyConfigured, ValueError, KeyError) as exc:
        raise ImproperlyConfigured(f"{name} is not a valid URL for this setting: {exc}") from None


def mail_folder(raw: str, default: Path) -> str:
    """The folder of filemail://: filemail:///abs/path is absolute, filemail://rel/path
    relative to the working directory, filemail:// the default."""
    parts = urlsplit(raw)
    path = parts.netloc + parts.path
    if not parts.netloc and path.startswith("//"):
        path = path[1:]  # filemail:////abs/path, the spelling django-environ expects
    return path or str(default)


# --- Core -----------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)
# HTTPS is on by default in production. Turn it off only for a plain-HTTP deployment
# on a private network (and for the test suite), never on the public internet.
HTTPS = env_bool("HTTPS", not DEBUG)

SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Production mode (DEBUG off) needs a long random "
            "SECRET_KEY; see .env.example. For local development set DEBUG=true."
        )
    SECRET_KEY = "django-insecure-development-only-key-never-use-in-production"
elif not DEBUG and (len(SECRET_KEY) < 50 or SECRET_KEY.startswith("django-insecure")):
    raise ImproperlyConfigured(
        "SECRET_KEY is too weak for production: use at least 50 random characters "
        "(python -c 'import secrets; print(secrets.token_urlsafe(50))')."
    )

SITE_NAME = env_str("SITE_NAME", "Essay Forum") or "Essay Forum"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
for origin in CSRF_TRUSTED_ORIGINS:
    if not origin.startswith(("http://", "https://")):
        raise ImproperlyConfigured(
            f"CSRF_TRUSTED_ORIGINS entries must start with http:// or https:// (got {origin!r})."
        )

# The admin lives under a configurable path so it is not where bots look first.
# Number of reverse proxies in front of the app (Caddy in docker compose). With one
# or more, the proxy's X-Forwarded-Proto says whether the request was HTTPS, and client
# IPs (for rate limits) come from X-Forwarded-For.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0)

ADMIN_URL = env_str("ADMIN_URL", "admin/").strip("/") + "/"
if ADMIN_URL == "/":
    raise ImproperlyConfigured("ADMIN_URL must not be empty.")

INSTALLED_APPS = [
    "accounts",
    "essays",
    "forum",
    "config.apps.AdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django.contrib.postgres",
    "django_htmx",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "allauth.socialaccount",
    "allauth.socialaccount.providers.github",
    "allauth.socialaccount.providers.google",
]

MIDDLEWARE = [
    # First: /healthz answers over plain HTTP to any Host (see config/health.py).
    "config.health.HealthCheckMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "config.middleware.PermissionsPolicyMiddleware",
    # Outside everything that can refuse a request (CommonMiddleware's bad Host is a
    # 400), so that every answer says it may not be framed.
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # A reader's repeat view of a section, from the cache, inside the headers above
    # and before the middlewares below, which have nothing to add for it.
    "forum.caching.ReaderCacheMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "accounts.middleware.StaffSessionAuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "config.context_processors.site",
            ],
        },
    },
]

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # One password check per sign-in attempt, known account or not (timing must not
    # tell whether an address has an account); the others for permissions and sessions.
    "accounts.backends.OneCheckBackend",
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "home"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Covering indexes (Index.include) are PostgreSQL's: on SQLite the same indexes are made
# without the included columns, which is what this warning says.
SILENCED_SYSTEM_CHECKS = ["models.W040"]

# --- Database ---------------------------------------------------------------------------

DATA_DIR = Path(env_str("DATA_DIR") or BASE_DIR / "data")
DATABASE_URL_DEFAULT = f"sqlite:///{DATA_DIR / 'db.sqlite3'}"
database = env_url("DATABASE_URL", DATABASE_URL_DEFAULT, environ.Env.db_url_config)
DATABASE_POOL = {
    "min_size": env_int("DATABASE_POOL_MIN_SIZE", 2, minimum=0),
    "max_size": env_int("DATABASE_POOL_MAX_SIZE", 10, minimum=1),
    "timeout": 10,
}
DATABASE_PREPARED_STATEMENTS = env_bool("DATABASE_PREPARED_STATEMENTS", True)  # PostgreSQL's
if database.get("ENGINE") == "django.db.backends.sqlite3":
    if database["NAME"] != ":memory:":
        Path(database["NAME"]).parent.mkdir(parents=True, exist_ok=True)
    database["OPTIONS"] = {
        # IMMEDIATE transactions and a busy timeout avoid "database is locked" under
        # concurrent writers; WAL lets readers proceed while one writes.
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
elif database.get("ENGINE") == "django.db.backends.postgresql":
    # psycopg 3's pool keeps connections warm per process; Django requires
    # CONN_MAX_AGE = 0 when the pool is on.
    database["CONN_MAX_AGE"] = 0
    database.setdefault("OPTIONS", {})["pool"] = DATABASE_POOL
    if DATABASE_PREPARED_STATEMENTS:
        # Parameters sent apart from the SQL, and a statement sent five times on a
        # connection prepared there: PostgreSQL then plans it once, not each time. The
        # 1,000-comment page's six queries for a member cost PostgreSQL 8.1-8.6 ms of
        # CPU each time planned anew, 5.5-5.6 ms prepared (a third of it was
        # planning). Off behind a pooler in transaction mode (PgBouncer before 1.21),
        # which cannot keep a statement prepared on one server connection.
        database["OPTIONS"] |= {"server_side_binding": True, "prepare_threshold": 5}
else:
    raise ImproperlyConfigured(
        "DATABASE_URL must look like sqlite:////path/db.sqlite3 or "
        "postgres://user:password@host:5432/name."
    )
DATABASES = {"default": database}

# --- Cache, sessions --------------------------------------------------------------------

# Two caches, so that page copies can never push security state out:
# - "default" (SECURITY_CACHE_URL) holds security state: allauth's rate limits (sign-in
#   failures, sign-ups, password resets, codes), two-factor state (TOTP codes already
#   used), the session cache and the preview limit. allauth and Django's sessions use
#   the default alias, hence this one. It must never evict: on Redis, a server (or
#   instance) of its own with `maxmemory-policy noeviction`.
# - "pages" (CACHE_URL) holds the readers' page copies and their versions: many,
#   disposable, fine to drop when full (an LRU-bounded Redis).
# Without SECURITY_CACHE_URL both live in CACHE_URL's cache, as before this split
# (`check --deploy` warns when that is a shared Redis).
CACHE_URL_DEFAULT = "locmemcache://"
PAGE_CACHE = env_url("CACHE_URL", CACHE_URL_DEFAULT, environ.Env.cache_url_config)
SECURITY_CACHE = env_url(
    "SECURITY_CACHE_URL",
    env_str("CACHE_URL") or CACHE_URL_DEFAULT,
    environ.Env.cache_url_config,
)
for _location, _cache in (("pages", PAGE_CACHE), ("security", SECURITY_CACHE)):
    if _cache["BACKEND"].endswith("LocMemCache"):
        _cache["LOCATION"] = _location  # two separate memories, not one shared
    if _cache["BACKEND"] == "django.core.cache.backends.redis.RedisCache":
        _cache["BACKEND"] = "config.cache.RedisCache"  # one client, not one per call
CACHES = {"default": SECURITY_CACHE, "pages": PAGE_CACHE}
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
SESSION_CACHE_ALIAS = "default"  # the security cache
# Readers' page cache and ETags rely on versions kept in the cache, so they must be
# shared by every process that changes content (web workers, the worker, manage.py).
# On by default only with a shared cache (Redis); a per-process cache would serve
# stale pages after a change made elsewhere.
READER_CACHE = env_bool(
    "READER_CACHE", not CACHES["pages"]["BACKEND"].endswith(("LocMemCache", "DummyCache"))
)

# --- Email ------------------------------------------------------------------------------

email = env_url("EMAIL_URL", "consolemail://", environ.Env.email_url_config)
email_options = {}
if email["EMAIL_BACKEND"].endswith("smtp.EmailBackend"):
    email_options = {
        "host": email.get("EMAIL_HOST") or "localhost",
        "port": email.get("EMAIL_PORT") or 25,
        "username": email.get("EMAIL_HOST_USER") or "",
        "password": email.get("EMAIL_HOST_PASSWORD") or "",
        "use_tls": bool(email.get("EMAIL_USE_TLS")),
        "use_ssl": bool(email.get("EMAIL_USE_SSL")),
        "timeout": 20,
    }
elif email["EMAIL_BACKEND"].endswith("filebased.EmailBackend"):
    # django-environ drops the leading slash of filemail:///abs/path; read the path here.
    email_options = {"file_path": mail_folder(env_str("EMAIL_URL"), DATA_DIR / "mail")}
elif email["EMAIL_BACKEND"].endswith("console.EmailBackend"):
    # Development mail, printed as a person reads it: links on one line.
    email["EMAIL_BACKEND"] = "config.mail.ReadableConsoleBackend"
MAILERS = {"default": {"BACKEND": email["EMAIL_BACKEND"], "OPTIONS": email_options}}
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", f"{SITE_NAME} <noreply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

# Where the site is, for links in mail sent by the background worker (no request there).
# Default: the first of ALLOWED_HOSTS, over https when HTTPS is on.
_first_host = next((h for h in ALLOWED_HOSTS if "*" not in h and not h.startswith(".")), "")
# In development, the address `make run` serves (PORT, default 8000, as runserver's).
SITE_URL = env_str(
    "SITE_URL",
    f"http://127.0.0.1:{env_int('PORT', 8000, minimum=1)}"
    if DEBUG
    else f"{'https' if HTTPS else 'http'}://{_first_host}",
).rstrip("/")
_site = urlsplit(SITE_URL)
if _site.scheme not in ("http", "https") or not _site.netloc or _site.path or _site.query:
    raise ImproperlyConfigured(
        f"SITE_URL must be like https://forum.example.org, without a path (got {SITE_URL!r})."
    )

# --- Accounts (django-allauth) ------------------------------------------------------

ACCOUNT_ADAPTER = "accounts.adapters.AccountAdapter"
ACCOUNT_LOGIN_METHODS = {"email", "username"}
ACCOUNT_SIGNUP_FIELDS = ["username*", "email*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "mandatory"
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_PREVENT_ENUMERATION = True
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_LOGIN_ON_EMAIL_CONFIRMATION = True
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_USERNAME_MIN_LENGTH = 2
ACCOUNT_USERNAME_BLACKLIST = ["admin", "administrator", "moderator", "staff", "deleted"]
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"[{SITE_NAME}] "
# Bots fill every field; people never see this one.
ACCOUNT_SIGNUP_FORM_HONEYPOT_FIELD = "website"
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
ACCOUNT_DEFAULT_HTTP_PROTOCOL = "https" if HTTPS else "http"
# Rate limits are allauth's defaults (ACCOUNT_RATE_LIMITS unset). allauth counts them in
# the default cache, the security cache above (SECURITY_CACHE_URL): every process shares
# them when it is Redis, and no flood of page copies can evict them.

MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_PASSKEY_LOGIN_ENABLED = True
MFA_TOTP_ISSUER = SITE_NAME
# Passkeys need a secure origin; http://localhost counts as one in browsers.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = DEBUG
# Staff must have two-factor authentication before they reach the admin.
STAFF_REQUIRE_2FA = env_bool("STAFF_REQUIRE_2FA", False)

# Updating "last seen" would cost three queries on every signed-in request.
USERSESSIONS_TRACK_ACTIVITY = False

SOCIALACCOUNT_ADAPTER = "accounts.adapters.SocialAccountAdapter"
SOCIALACCOUNT_EMAIL_AUTHENTICATION = False
SOCIALACCOUNT_PROVIDERS = {}
for provider in ("github", "google"):
    client_id = env_str(f"{provider.upper()}_CLIENT_ID")
    client_secret = env_str(f"{provider.upper()}_CLIENT_SECRET")
    if bool(client_id) != bool(client_secret):
        raise ImproperlyConfigured(
            f"{provider.upper()}_CLIENT_ID and {provider.upper()}_CLIENT_SECRET "
            "must be set together."
        )
    if client_id:
        SOCIALACCOUNT_PROVIDERS[provider] = {
            "APPS": [{"client_id": client_id, "secret": client_secret}],
            "SCOPE": ["user:email"] if provider == "github" else ["profile", "email"],
            # Don't mark every address from the provider verified; allauth still trusts
            # the provider's own "verified" flag and mails a confirmation otherwise.
            "VERIFIED_EMAIL": False,
        }

# Client IPs for rate limits: behind N trusted proxies, take the Nth address from the
# right of X-Forwarded-For; with none, REMOTE_ADDR.
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT

# --- Discussion -----------------------------------------------------------------------------

COMMENT_MAX_LENGTH = env_int("COMMENT_MAX_LENGTH", 10_000, minimum=100)
# Top-level threads per page, each shown with its replies.
COMMENTS_PAGE_SIZE = env_int("COMMENTS_PAGE_SIZE", 50, minimum=1)
# Replies indent up to this depth; deeper ones continue on a page of their own.
COMMENTS_DISPLAY_DEPTH = env_int("COMMENTS_DISPLAY_DEPTH", 6, minimum=1)
# At most this many comments of one thread on a page, so a huge thread stays bounded.
COMMENTS_THREAD_MAX = env_int("COMMENTS_THREAD_MAX", 200, minimum=10)
# Not for production: each use of a query prepared once per process (config/prepared.py)
# also builds it with the ORM and compares the two. The tests turn it on.
PREPARED_QUERIES_CHECK = False

# --- Passwords --------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- Internationalisation ---------------------------------------------------------------

LANGUAGE_CODE = "en"
TIME_ZONE = env_str("TIME_ZONE", "UTC") or "UTC"
USE_I18N = True
USE_TZ = True

# --- Static files -----------------------------------------------------------------------

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT") or DATA_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed, compressed files served by WhiteNoise with far-future cache headers.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Security ---------------------------------------------------------------------------

SECURE_SSL_REDIRECT = HTTPS
SESSION_COOKIE_SECURE = HTTPS
CSRF_COOKIE_SECURE = HTTPS
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if HTTPS else 0)
# Covering subdomains and preloading are commitments that are hard to undo: opt in.
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)
if TRUSTED_PROXY_COUNT:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_REFERRER_POLICY = "same-origin"
SECURE_CROSS_ORIGIN_OPENER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True

# Strict Content-Security-Policy: everything comes from this site, inline script or
# style only with the per-request nonce.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.NONCE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "connect-src": [CSP.SELF],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "object-src": [CSP.NONE],
}

# --- Logging ----------------------------------------------------------------------------

LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper() or "INFO"
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(
        f"LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR (got {LOG_LEVEL!r})."
    )
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "{asctime} {levelname} {name}: {message}", "style": "{"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain", "level": LOG_LEVEL}
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {"django.db.backends": {"level": "INFO"}},
}
