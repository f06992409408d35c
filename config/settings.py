"""Querylab's one settings module. Everything comes from the environment, with working defaults.

See the README's "Configuration" section for the list of variables.

Importing it starts nothing and writes nothing. Without ``DATABASE_URL`` (or
``SANDBOX_DATABASE_URL``), the URL of the embedded server is read from the state file it
wrote when it started; ``config.infra.embedded.prepare()`` starts the servers (and writes the
development secret key) before the settings are read: ``manage.py`` does it for the commands
that use the database, as do the WSGI/ASGI entry points and the test session. A server that
was never started gets a URL that cannot connect, and ``manage.py`` says so plainly.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import dj_database_url
from csp.constants import NONCE, NONE, SELF
from django.core.exceptions import ImproperlyConfigured

from config.infra import embedded
from config.infra.env import envbool, envint, envlist, envstr, gunicorn_threads

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = embedded.data_dir()

DEBUG = envbool("DEBUG", True)


def _secret_key() -> str:
    key = os.environ.get("SECRET_KEY", "").strip()
    if key:
        return key
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. With DEBUG=0 Querylab needs a SECRET_KEY in the environment "
            "(for example: python -c 'import secrets; print(secrets.token_urlsafe(50))')."
        )
    # Development: the key `embedded.prepare()` stored, so sessions survive restarts. A process
    # that was not started through it (a bare import) gets a key of its own, never written.
    try:
        return embedded.secret_key_file().read_text().strip()
    except FileNotFoundError:
        return secrets.token_urlsafe(50)


SECRET_KEY = _secret_key()
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.postgres",
    "django_htmx",
    "template_partials",
    "csp",
    "config",
    "lessons",
    "sandbox",
]

MIDDLEWARE = [
    "config.infra.logs.RequestLogMiddleware",
    # Security headers on every response, the 503 page of a database outage included.
    "csp.middleware.CSPMiddleware",
    "django_permissions_policy.PermissionsPolicyMiddleware",
    # A database outage in a view answers 503, not a traceback (see config/infra/unavailable.py).
    "config.infra.unavailable.DatabaseUnavailableMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Notes when a signed-in session was last seen, at most every ACCOUNT_DEVICE_SEEN_MINUTES.
    "lessons.account_devices.SignedInDeviceMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Off unless CONTENT_AUTOSYNC (set by `manage.py serve --dev`): re-syncs edited lessons.
    "lessons.middleware.ContentAutoSyncMiddleware",
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
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "lessons.context_processors.discussion",
            ],
        },
    }
]

# -- Databases ------------------------------------------------------------------------------

GUNICORN_THREADS = gunicorn_threads()
DB_POOL_MIN = envint("DB_POOL_MIN", 1)
# A request holds one connection while it runs, so a process needs one per thread, plus two
# for its background threads (the sandbox janitor, the warm pool's refill).
DB_POOL_MAX = envint("DB_POOL_MAX", GUNICORN_THREADS + 2)


def _database_from_url(variable: str, url: str) -> dict:
    try:
        config = dj_database_url.parse(url)
    except Exception as exc:
        raise ImproperlyConfigured(f"{variable} could not be parsed: {exc}") from None
    if config.get("ENGINE") != "django.db.backends.postgresql":
        raise ImproperlyConfigured(
            f"{variable} must be a PostgreSQL URL (postgresql://user:password@host:port/name); "
            f"Querylab runs on PostgreSQL only."
        )
    if not config.get("NAME"):
        raise ImproperlyConfigured(f"{variable} names no database (…/databasename at the end).")
    return config


def _app_database() -> dict:
    url = os.environ.get("DATABASE_URL", "").strip()
    variable = "DATABASE_URL"
    if not url:
        variable = "the embedded app database"
        url = _embedded_url("app")
    config = _database_from_url(variable, url)
    config["CONN_MAX_AGE"] = 0  # the pool below keeps connections; Django must not.
    # With a pool, Django turns this into the pool's `check` (psycopg_pool's own, an empty
    # query as a connection is handed out): after the database restarts, the idle connections
    # in the pool are dead, so each is tested and replaced, and no request gets a dead one.
    config["CONN_HEALTH_CHECKS"] = envbool("DB_POOL_CHECK", True)
    config.setdefault("OPTIONS", {})
    config["OPTIONS"].update(
        {
            "pool": {
                "min_size": DB_POOL_MIN,
                "max_size": DB_POOL_MAX,
                "timeout": envint("DB_POOL_TIMEOUT", 10),
                "max_lifetime": envint("DB_POOL_MAX_LIFETIME", 30 * 60),
                "max_idle": envint("DB_POOL_MAX_IDLE", 5 * 60),
                # Keep trying to reconnect for this long while the server is away.
                "reconnect_timeout": envint("DB_POOL_RECONNECT_TIMEOUT", 5 * 60),
            },
            "connect_timeout": envint("DB_CONNECT_TIMEOUT", 5),
            "application_name": "querylab",
        }
    )
    return config


def _embedded_url(name: str) -> str:
    """Where the embedded server listens, as its state file says (read, never started here)."""
    try:
        return embedded.server(name).url()
    except embedded.EmbeddedDatabaseError:
        # Never started: `manage.py db start` (or any command that uses the database) does it.
        # Until then this URL refuses every connection.
        return f"postgresql://postgres@127.0.0.1:1/{embedded.DATABASE_NAMES[name]}"


def _sandbox_database_url() -> str:
    url = os.environ.get("SANDBOX_DATABASE_URL", "").strip()
    if url:
        for part in url.split(","):
            _database_from_url("SANDBOX_DATABASE_URL", part.strip())
        return url
    # The site still serves lessons when it is down; the sandbox answers "unavailable".
    return _embedded_url("sandbox")


DATABASES = {"default": _app_database()}
SANDBOX_DATABASE_URL = _sandbox_database_url()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

CACHES = {
    # In PostgreSQL so that rate limits and the like hold across gunicorn workers and hosts.
    "default": {
        "BACKEND": "django.core.cache.backends.db.DatabaseCache",
        "LOCATION": "querylab_cache",
    }
}
# Django's write-through sessions: read from the cache above (one plain SELECT), written to both.
# Measured on the sandbox's run path: 1.0 ms less CPU per run than the ORM read of the db
# backend (bench/README.md). Logging out deletes both, in every process at once.
SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"

# -- Auth -----------------------------------------------------------------------------------

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# The account page (/account/, lessons/account_views.py): an e-mail change link's lifetime, how
# often a session's "last seen" is written, how long a deleted account's username stays
# unavailable, and how many sensitive account actions (password checks, e-mails, exports,
# sign-outs) one user may make per hour.
ACCOUNT_EMAIL_CHANGE_MAX_AGE_HOURS = envint("ACCOUNT_EMAIL_CHANGE_MAX_AGE_HOURS", 24)
ACCOUNT_DEVICE_SEEN_MINUTES = envint("ACCOUNT_DEVICE_SEEN_MINUTES", 15)
ACCOUNT_USERNAME_HOLD_DAYS = envint("ACCOUNT_USERNAME_HOLD_DAYS", 180)
ACCOUNT_ACTIONS_PER_HOUR = envint("ACCOUNT_ACTIONS_PER_HOUR", 20)
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "home"

EMAIL_BACKEND = envstr("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = envstr("EMAIL_HOST", "localhost")
EMAIL_PORT = envint("EMAIL_PORT", 25)
EMAIL_HOST_USER = envstr("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = envstr("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = envbool("EMAIL_USE_TLS", False)
DEFAULT_FROM_EMAIL = envstr("DEFAULT_FROM_EMAIL", "Querylab <noreply@querylab.localhost>")

# -- Internationalisation -------------------------------------------------------------------

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# -- Static files (whitenoise) --------------------------------------------------------------

STATIC_URL = "static/"
STATIC_ROOT = Path(envstr("STATIC_ROOT", str(DATA_DIR / "staticfiles")))
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if envbool("STATIC_MANIFEST", not DEBUG)
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}
WHITENOISE_MAX_AGE = envint("WHITENOISE_MAX_AGE", 3600)

# -- Content --------------------------------------------------------------------------------

CONTENT_DIR = Path(envstr("CONTENT_DIR", str(BASE_DIR / "content"))).resolve()
CONTENT_AUTOSYNC = envbool("CONTENT_AUTOSYNC", False)
# Anonymous lesson pages are cached per process; content changes show within this many seconds.
LESSON_PAGE_CACHE_SECONDS = envint("LESSON_PAGE_CACHE_SECONDS", 1)

# -- Discussion -----------------------------------------------------------------------------
# Abuse limits count a user's recent posts in PostgreSQL (never process memory), so they hold
# across gunicorn workers. Staff are not limited.

DISCUSSION_POSTS_PER_MINUTE = envint("DISCUSSION_POSTS_PER_MINUTE", 5)
DISCUSSION_NEW_ACCOUNT_HOURS = envint("DISCUSSION_NEW_ACCOUNT_HOURS", 24)
DISCUSSION_NEW_ACCOUNT_POSTS_PER_MINUTE = envint("DISCUSSION_NEW_ACCOUNT_POSTS_PER_MINUTE", 2)
DISCUSSION_NEW_ACCOUNT_POSTS_PER_DAY = envint("DISCUSSION_NEW_ACCOUNT_POSTS_PER_DAY", 20)
DISCUSSION_DUPLICATE_WINDOW_SECONDS = envint("DISCUSSION_DUPLICATE_WINDOW_SECONDS", 60 * 60)
DISCUSSION_MAX_TITLE_CHARS = envint("DISCUSSION_MAX_TITLE_CHARS", 150)
DISCUSSION_MAX_BODY_CHARS = envint("DISCUSSION_MAX_BODY_CHARS", 5000)
DISCUSSION_THREADS_PER_PAGE = envint("DISCUSSION_THREADS_PER_PAGE", 10)
# Email people about replies as well as showing them a badge; off unless asked for.
DISCUSSION_EMAIL_NOTIFICATIONS = envbool("DISCUSSION_EMAIL_NOTIFICATIONS", False)
SITE_URL = envstr("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# -- Security -------------------------------------------------------------------------------

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# No script reads the cookie: htmx sends the token from <body hx-headers>, forms post it.
CSRF_COOKIE_HTTPONLY = True
SESSION_COOKIE_AGE = envint("SESSION_COOKIE_AGE", 60 * 60 * 24 * 30)
if not DEBUG:
    SECURE_SSL_REDIRECT = envbool("SECURE_SSL_REDIRECT", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 60 * 60 * 24 * 365)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", False)
    SESSION_COOKIE_SECURE = envbool("SESSION_COOKIE_SECURE", True)
    CSRF_COOKIE_SECURE = envbool("CSRF_COOKIE_SECURE", True)

# Django's debug pages hide every credential, also in settings named *_URL
# (config/infra/debug_page.py).
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.infra.debug_page.CredentialsFilter"

# Content-Security-Policy (django-csp). No template has inline script, style or event handlers,
# and htmx runs no script from a swapped fragment and evaluates nothing (its <meta name=
# "htmx-config"> in base.html), so everything comes from the site's own files. A lesson's SQL or
# a discussion post that got past the sanitiser still cannot run script.
# Styles may also carry the request's nonce: the code editor (CodeMirror, static/editor/) adds
# its own <style> element with it in browsers without constructable stylesheets. django-csp
# sends a nonce only on pages that used it (those with an editor); others keep 'self' alone.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF, NONCE],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "form-action": [SELF],
        "object-src": [NONE],
        "base-uri": [NONE],
        "frame-ancestors": [NONE],
    }
}
# Permissions-Policy (django-permissions-policy): the site uses none of these browser features,
# so no page (or anything injected into one) can ask for them. The clipboard stays allowed for
# the copy buttons. Only features Chromium knows: it logs an error for each unknown one (such
# as interest-cohort, FLoC, gone since browsing-topics replaced it, and bluetooth on Linux).
PERMISSIONS_POLICY: dict[str, list[str]] = {
    feature: []
    for feature in (
        "accelerometer",
        "autoplay",
        "browsing-topics",
        "camera",
        "display-capture",
        "encrypted-media",
        "geolocation",
        "gyroscope",
        "hid",
        "idle-detection",
        "local-fonts",
        "magnetometer",
        "microphone",
        "midi",
        "payment",
        "publickey-credentials-get",
        "screen-wake-lock",
        "serial",
        "usb",
        "xr-spatial-tracking",
    )
}

SILENCED_SYSTEM_CHECKS = [
    # HSTS preload is a one-way door; leave it to whoever deploys to opt in.
    "security.W021",
]

# -- Operations -----------------------------------------------------------------------------

# /metrics (Prometheus text) for staff sessions, or for `Authorization: Bearer METRICS_TOKEN`.
METRICS_ENABLED = envbool("METRICS_ENABLED", False)
METRICS_TOKEN = envstr("METRICS_TOKEN", "")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "json": {"()": "config.infra.logs.JsonFormatter"},
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": envstr("LOG_FORMAT", "json")}
    },
    "root": {"handlers": ["console"], "level": envstr("LOG_LEVEL", "INFO")},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        # The request log line replaces Django's own; keep its errors.
        "django.server": {"level": "WARNING"},
        "querylab.requests": {"level": envstr("REQUEST_LOG_LEVEL", "INFO")},
    },
}

# -- Sandbox (sandbox/servers.py, runner.py; every limit is named in the message of what exceeds it)

SANDBOX_NAME_PREFIX = envstr("SANDBOX_NAME_PREFIX", "qls")  # roles and schemas start with it
SANDBOX_FIXTURES_DIR = Path(envstr("SANDBOX_FIXTURES_DIR", str(CONTENT_DIR / "fixtures")))
SANDBOX_STATEMENT_TIMEOUT_MS = envint("SANDBOX_STATEMENT_TIMEOUT_MS", 5000)
SANDBOX_RUN_TIMEOUT_MS = envint("SANDBOX_RUN_TIMEOUT_MS", 8000)  # the watchdog's wall clock
SANDBOX_CANCEL_GRACE_MS = envint("SANDBOX_CANCEL_GRACE_MS", 500)  # then pg_terminate_backend
SANDBOX_LOCK_TIMEOUT_MS = envint("SANDBOX_LOCK_TIMEOUT_MS", 2000)
SANDBOX_IDLE_IN_TRANSACTION_TIMEOUT_MS = envint("SANDBOX_IDLE_IN_TRANSACTION_TIMEOUT_MS", 10000)
SANDBOX_TEMP_FILE_LIMIT_KB = envint("SANDBOX_TEMP_FILE_LIMIT_KB", 64 * 1024)
SANDBOX_WORK_MEM_KB = envint("SANDBOX_WORK_MEM_KB", 4096)
# The most a learner's SET work_mem may ask for (a PostgreSQL memory value: '16MB', '8192kB').
SANDBOX_MAX_WORK_MEM = envstr("SANDBOX_MAX_WORK_MEM", "16MB")
SANDBOX_MAX_ROWS = envint("SANDBOX_MAX_ROWS", 500)
SANDBOX_MAX_BYTES = envint("SANDBOX_MAX_BYTES", 1_000_000)
SANDBOX_MAX_STATEMENTS = envint("SANDBOX_MAX_STATEMENTS", 20)
SANDBOX_MAX_SQL_LENGTH = envint("SANDBOX_MAX_SQL_LENGTH", 20_000)
SANDBOX_RUNS_PER_MINUTE = envint("SANDBOX_RUNS_PER_MINUTE", 60)
SANDBOX_CONCURRENT_RUNS = envint("SANDBOX_CONCURRENT_RUNS", 16)  # per server, all processes
SANDBOX_QUEUE_LENGTH = envint("SANDBOX_QUEUE_LENGTH", 64)
# Sandbox requests running longer than SANDBOX_SLOW_REQUEST_MS in one web process; while that many
# do, new ones get 429 at once. Half its threads by default, so a class running slow queries never
# leaves page views without a thread; quick runs free theirs at once and are not counted. A
# second: on a saturated 2-core machine an ordinary SELECT 1 took 300-600 ms at times, and at
# 250 ms a few of them (0-7 in 3,000 runs of bench/sandbox.py) were refused as "long".
SANDBOX_REQUESTS_PER_PROCESS = envint("SANDBOX_REQUESTS_PER_PROCESS", max(1, GUNICORN_THREADS // 2))
SANDBOX_SLOW_REQUEST_MS = envint("SANDBOX_SLOW_REQUEST_MS", 1000)
# The embedded sandbox server starts at this niceness (config/infra/embedded.py), and each backend
# the app opens on it is niced too, its session as well (config/infra/priority.py). A sandbox server
# of SANDBOX_DATABASE_URL is the operator's to place (other cores, cgroups, cpu_shares).
SANDBOX_SERVER_NICE = max(0, min(envint("SANDBOX_SERVER_NICE", 10), 19))
SANDBOX_SERVER_IS_EMBEDDED = not os.environ.get("SANDBOX_DATABASE_URL", "").strip()
SANDBOX_QUEUE_WAIT_MS = envint("SANDBOX_QUEUE_WAIT_MS", 3000)
SANDBOX_DISK_LIMIT_MB = envint("SANDBOX_DISK_LIMIT_MB", 64)
SANDBOX_EXPIRY_USER_HOURS = envint("SANDBOX_EXPIRY_USER_HOURS", 24)
SANDBOX_EXPIRY_SESSION_HOURS = envint("SANDBOX_EXPIRY_SESSION_HOURS", 2)
SANDBOX_WARM_POOL_SIZE = envint("SANDBOX_WARM_POOL_SIZE", 2)  # pre-seeded, per fixture
SANDBOX_SHARE_EXPIRY_DAYS = envint("SANDBOX_SHARE_EXPIRY_DAYS", 30)  # unless kept by a user
SANDBOX_SHARES_PER_HOUR = envint("SANDBOX_SHARES_PER_HOUR", 30)  # per learner
SANDBOX_SHARE_MAX_BYTES = envint("SANDBOX_SHARE_MAX_BYTES", 200_000)  # rows beyond are cut
SANDBOX_PLANS_KEPT = envint("SANDBOX_PLANS_KEPT", 10)  # explained plans kept per learner and lesson
SANDBOX_CHECK_WORKERS = envint(
    "SANDBOX_CHECK_WORKERS", 4
)  # lessons checked at once by content check
# Seeding a fixture (content/README.md, "Fixtures"): each statement of it is stopped at the limit,
# and `content check` / `content sync` refuse a fixture that seeds slower than the limit and warn
# past SANDBOX_FIXTURE_SEED_WARN_MS: every learner's first run in the lesson waits that long.
SANDBOX_FIXTURE_SEED_LIMIT_MS = envint("SANDBOX_FIXTURE_SEED_LIMIT_MS", 60_000)
SANDBOX_FIXTURE_SEED_WARN_MS = envint("SANDBOX_FIXTURE_SEED_WARN_MS", 3_000)
SANDBOX_CHECK_MAX_ROWS = envint("SANDBOX_CHECK_MAX_ROWS", 20_000)  # rows compared per graded result
SANDBOX_JANITOR_INTERVAL_SECONDS = envint("SANDBOX_JANITOR_INTERVAL_SECONDS", 300)
SANDBOX_ROLE_CONNECTION_LIMIT = envint("SANDBOX_ROLE_CONNECTION_LIMIT", 8)
SANDBOX_IDLE_CONNECTIONS = envint("SANDBOX_IDLE_CONNECTIONS", 64)  # kept open per process
SANDBOX_IDLE_CONNECTION_SECONDS = envint("SANDBOX_IDLE_CONNECTION_SECONDS", 120)
SANDBOX_PROVISIONER_POOL_SIZE = envint("SANDBOX_PROVISIONER_POOL_SIZE", 4)
SANDBOX_REFILL_IN_BACKGROUND = envbool("SANDBOX_REFILL_IN_BACKGROUND", True)

# The Django ORM lab (LAB.md, sandbox/lab/). The worker is a process of its own that holds no
# secret; the web process reaches it over a unix socket (mode 0600). Several sockets, comma-
# separated, spread runs over several workers.
LAB_WORKER_SOCKET = envstr("LAB_WORKER_SOCKET", str(DATA_DIR / "lab" / "worker.sock"))
LAB_MODELS_DIR = Path(envstr("LAB_MODELS_DIR", str(CONTENT_DIR / "models")))
LAB_RUN_TIMEOUT_MS = envint("LAB_RUN_TIMEOUT_MS", 5000)  # wall clock, enforced by the worker
LAB_CPU_SECONDS = envint("LAB_CPU_SECONDS", 2)
LAB_MEMORY_MB = envint("LAB_MEMORY_MB", 256)  # address space on top of the warm worker's
LAB_OPEN_FILES = envint("LAB_OPEN_FILES", 16)
LAB_MAX_QUERIES = envint("LAB_MAX_QUERIES", 100)  # statements per run
LAB_MAX_OUTPUT = envint("LAB_MAX_OUTPUT", 64 * 1024)  # printed characters per run
LAB_MAX_CODE_LENGTH = envint("LAB_MAX_CODE_LENGTH", 20_000)
LAB_RECURSION_LIMIT = envint("LAB_RECURSION_LIMIT", 200)
# With DEBUG=0 the worker refuses to start without OS isolation (root to drop to a uid of its
# own per run, or bubblewrap) unless the operator says it is isolated another way.
LAB_ISOLATED_BY_OPERATOR = envbool("LAB_ISOLATED_BY_OPERATOR", False)
LAB_USE_BWRAP = envbool("LAB_USE_BWRAP", True)  # when /usr/bin/bwrap is there
LAB_START_WORKER = envbool("LAB_START_WORKER", True)  # `serve` starts one beside the site
