"""Settings for the treaty-compliance tracker, read from the environment (see .env.example)."""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONCE
from django.core.exceptions import ImproperlyConfigured

from compliance.security import secret_key_problem

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG")

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off (see .env.example).")
    # Only ever used with DEBUG on, i.e. on a developer's machine.
    SECRET_KEY = "django-insecure-development-only-key"

# DJANGO_ENV=production turns on the HTTPS settings below and refuses weak keys. A typo ("prod") must not quietly
# give a production server development settings, so only the two names are accepted.
DJANGO_ENV = os.environ.get("DJANGO_ENV", "").strip().lower() or "development"
if DJANGO_ENV not in {"development", "production"}:
    raise ImproperlyConfigured(f"DJANGO_ENV must be 'production' or 'development', not '{DJANGO_ENV}'.")
PRODUCTION = DJANGO_ENV == "production"
if PRODUCTION:
    if DEBUG:
        raise ImproperlyConfigured("DEBUG must be off when DJANGO_ENV=production.")
    if problem := secret_key_problem(SECRET_KEY):
        raise ImproperlyConfigured(
            f"SECRET_KEY {problem}; DJANGO_ENV=production needs a random one, e.g. from "
            "python -c 'import secrets; print(secrets.token_urlsafe(64))'"
        )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    # Swagger UI and Redoc from our own static files: no third-party CDN in the docs pages (nor in their CSP).
    "drf_spectacular_sidecar",
    "simple_history",
    "csp",
    "axes",
    "django_tasks",
    "django_tasks_db",
    "compliance",
    "agreements",
    "reports",
]

MIDDLEWARE = [
    # First: every answer, the errors of the middleware below included, carries X-Request-ID.
    "compliance.middleware.RequestIDMiddleware",
    # NUL characters in URLs (anywhere) and oversized API bodies are refused before anything reads them.
    "compliance.middleware.StrictInputMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Puts request.user on every history row written during a request.
    "simple_history.middleware.HistoryRequestMiddleware",
    # A database outage outside the API's own handler (admin, sessions, an idempotent POST's commit): 503, not 500.
    "compliance.middleware.DatabaseUnavailableMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as django-axes requires: it turns a locked-out login into its lockout page.
    "axes.middleware.AxesMiddleware",
]

# django-axes first: it refuses a locked-out username and address before the password is even checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "compliance.backends.ModelBackend",
]

ROOT_URLCONF = "compliance.urls"
WSGI_APPLICATION = "compliance.wsgi.application"
ASGI_APPLICATION = "compliance.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {
    "default": dj_database_url.config(
        default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}",
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Concurrent writers (runserver threads, the job worker, tests with a live server) wait instead of failing at
    # once. WAL lets a job's progress be written while another connection reads (compliance/jobs/progress.py).
    DATABASES["default"].setdefault("OPTIONS", {}).update(timeout=20, init_command="PRAGMA journal_mode=WAL;")
elif DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _options = DATABASES["default"].setdefault("OPTIONS", {})
    # An unreachable server fails a connection attempt after this long, not after the OS's TCP timeout (minutes).
    _options.setdefault("connect_timeout", int(os.environ.get("DB_CONNECT_TIMEOUT", "5")))
    if env_bool("DB_POOL", True):
        # psycopg's pool, per process. Django requires CONN_MAX_AGE 0 with it; CONN_HEALTH_CHECKS (on) makes the pool
        # check each connection before handing it out, so one a database restart broke is replaced, not used.
        DATABASES["default"]["CONN_MAX_AGE"] = 0
        _options["pool"] = {
            "min_size": int(os.environ.get("DB_POOL_MIN_SIZE", "1")),
            "max_size": int(os.environ.get("DB_POOL_MAX_SIZE", "4")),
            # How long a request waits for a connection before answering 503 with Retry-After.
            "timeout": float(os.environ.get("DB_POOL_TIMEOUT", "5")),
            # A failing reconnection is given up after this long, so that once the database is back the next
            # request reconnects at once instead of waiting out an exponential back-off that grew during the outage.
            "reconnect_timeout": float(os.environ.get("DB_POOL_RECONNECT_TIMEOUT", "5")),
        }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-gb"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATIC_ROOT.mkdir(exist_ok=True)  # whitenoise warns on every request when it is missing
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "media"))
# Archived copies of sources (agreements/evidence.py): uploads above this size are refused. Served to staff only.
SOURCE_FILE_MAX_BYTES = int(os.environ.get("SOURCE_FILE_MAX_BYTES", str(20 * 1024 * 1024)))
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if DEBUG or not env_bool("STATIC_MANIFEST", True)
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
WHITENOISE_USE_FINDERS = DEBUG

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "compliance.api.authentication.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["compliance.api.permissions.RolePermission"],
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_PAGINATION_CLASS": "compliance.api.pagination.CursorPagination",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "compliance.api.errors.exception_handler",
    # JSON only: no endpoint takes forms or uploads (archived source files go through the admin), and one parser
    # is one place that caps nesting and refuses NUL characters. Other content types answer 415.
    "DEFAULT_PARSER_CLASSES": ["compliance.api.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_RENDERER_CLASSES": [
        "compliance.api.renderers.ORJSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    # Coordinates and depths as JSON numbers, which is what maps and dashboards expect.
    "COERCE_DECIMAL_TO_STRING": False,
    # Per client address without credentials (failed token logins count here too), per user, and per user (or
    # address) for writes. An empty value turns that limit off. See compliance/api/throttling.py.
    "DEFAULT_THROTTLE_CLASSES": [
        "compliance.api.throttling.AnonThrottle",
        "compliance.api.throttling.UserThrottle",
        "compliance.api.throttling.WriteThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": os.environ.get("API_THROTTLE_ANON", "60/min") or None,
        "user": os.environ.get("API_THROTTLE_USER", "1200/min") or None,
        "write": os.environ.get("API_THROTTLE_WRITE", "120/min") or None,
    },
}
API_PAGE_SIZE = int(os.environ.get("API_PAGE_SIZE", "50"))
API_MAX_PAGE_SIZE = int(os.environ.get("API_MAX_PAGE_SIZE", "500"))
# XLSX is built in memory; past this many rows the API answers 400 and points to the streamed CSV.
API_XLSX_MAX_ROWS = int(os.environ.get("API_XLSX_MAX_ROWS", "20000"))
# Streamed exports still have to end within the worker's timeout (gunicorn: 30 s), or the client gets a 200 and a
# cut file. Past these many rows the API answers 400 instead (0: no limit). GeoJSON is rendered row by row in
# Python (~6,000 rows/s on our 2-core build machine, 2.5× slower where 1M rows were first measured: 30,000 rows is
# then ~12 s). CSV comes from PostgreSQL's COPY: 1M rows in 16-18 s through gunicorn on the same machine; on slower
# hardware lower the limit (benchmarks/run.py measures both rates).
API_GEOJSON_MAX_ROWS = int(os.environ.get("API_GEOJSON_MAX_ROWS", "30000"))
API_CSV_MAX_ROWS = int(os.environ.get("API_CSV_MAX_ROWS", "1000000"))
# How long the answer to a POST with an Idempotency-Key is kept for replay (compliance/api/idempotency.py).
IDEMPOTENCY_TTL_HOURS = int(os.environ.get("IDEMPOTENCY_TTL_HOURS", "48"))
if IDEMPOTENCY_TTL_HOURS < 24:
    raise ImproperlyConfigured("IDEMPOTENCY_TTL_HOURS must be at least 24: clients may retry for a day.")

# Background jobs (compliance/jobs/): queued in the database, run by `manage.py db_worker` (make run starts one).
# TASKS_BACKEND=django_tasks.backends.immediate.ImmediateBackend runs every job inside the request instead.
TASKS = {
    "default": {
        "BACKEND": os.environ.get("TASKS_BACKEND", "django_tasks_db.DatabaseBackend"),
        "QUEUES": ["default"],
    }
}
# A job that fails on a transient database error (lost connection, lock timeout, serialization failure) is queued
# again, this many attempts in all, the n-th retry after n × JOB_RETRY_DELAY_SECONDS.
JOB_MAX_ATTEMPTS = int(os.environ.get("JOB_MAX_ATTEMPTS", "3"))
JOB_RETRY_DELAY_SECONDS = int(os.environ.get("JOB_RETRY_DELAY_SECONDS", "30"))
# `manage.py jobs_upkeep` (run by `make run` and the compose worker before the worker starts; from cron as well):
# a running job with no sign of life for JOB_STALE_MINUTES lost its worker and is failed (nothing of it was kept);
# finished jobs and their files are deleted after JOB_KEEP_DAYS.
JOB_STALE_MINUTES = int(os.environ.get("JOB_STALE_MINUTES", "60"))
JOB_KEEP_DAYS = int(os.environ.get("JOB_KEEP_DAYS", "30"))
# The admin's import runs as a job (with a progress bar) past this many rows, or when asked.
IMPORT_INLINE_MAX_ROWS = int(os.environ.get("IMPORT_INLINE_MAX_ROWS", "500"))

SPECTACULAR_SETTINGS = {
    "TITLE": "Treaty-compliance tracker API",
    "DESCRIPTION": "The record of agreements and of what happened under them, for dashboards and integrations.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Several models have a "kind" or "status"; name each choice set after its model.
    "ENUM_NAME_OVERRIDES": {
        "ActorKindEnum": "agreements.models.actors.ActorKind",
        "ClauseKindEnum": "agreements.models.agreements.ClauseKind",
        "ZoneKindEnum": "agreements.models.geography.ZoneKind",
        "PlaceKindEnum": "agreements.models.geography.PlaceKind",
        "PatrolKindEnum": "agreements.models.events.PatrolKind",
        "SourceKindEnum": "agreements.models.violations.SourceKind",
        "AgreementStatusEnum": "agreements.models.agreements.AgreementStatus",
        "ViolationStatusEnum": "agreements.models.violations.ViolationStatus",
        "RouteStatusStatusEnum": "agreements.models.events.RouteStatusStatus",
        "JobKindEnum": "compliance.jobs.models.JobKind",
        "JobStateEnum": "compliance.jobs.models.JobState",
    },
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "compliance.api.schema.add_error_responses",
        "compliance.api.schema.add_idempotency_key",
        "compliance.api.schema.allow_empty_query_values",
        "compliance.api.schema.describe_text_input",
    ],
}

if not DEBUG:
    SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", True)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

if PRODUCTION:
    # Served over HTTPS behind a proxy that sets X-Forwarded-Proto (SECURE_PROXY_SSL_HEADER above). Cookies are always
    # secure here: SECURE_COOKIES=0 is for `docker compose up` on plain http://localhost, which is not production.
    SESSION_COOKIE_SECURE = CSRF_COOKIE_SECURE = True
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    # Health probes come over plain HTTP from inside (the container's healthcheck, the orchestrator), not via the
    # proxy; they carry nothing secret.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)

# How many proxies of ours append to X-Forwarded-For in front of the app; see compliance.security.client_ip.
TRUSTED_PROXY_COUNT = int(os.environ.get("TRUSTED_PROXY_COUNT", "0"))

# Throttle counters (compliance/api/throttling.py) live in the cache. The default is per process: with several
# gunicorn workers each keeps its own counts, so a client gets up to workers × the rate. Production with more than
# one worker sets a shared one, e.g. CACHE_BACKEND=django.core.cache.backends.db.DatabaseCache
# CACHE_LOCATION=compliance_cache (after `manage.py createcachetable`).
# Rendered API answers are cached under their ETag (compliance/api/conditional.py); bodies up to this size.
API_ANSWER_CACHE_MAX_BYTES = int(os.environ.get("API_ANSWER_CACHE_MAX_BYTES", str(256 * 1024)))

CACHES = {
    "default": {
        "BACKEND": os.environ.get("CACHE_BACKEND", "django.core.cache.backends.locmem.LocMemCache"),
        "LOCATION": os.environ.get("CACHE_LOCATION", ""),
    }
}

# Every response carries a Content-Security-Policy (django-csp): scripts and styles from our own origin only, so
# an injected <script> or inline handler does not run. The admin, Swagger UI and Redoc are served from our static
# files. A template's own <style> carries the request's nonce (`<style nonce="{{ request.csp_nonce }}">`); Redoc,
# which cannot work without inline styles, relaxes its own page (compliance/api/docs.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", NONCE],
        # Swagger UI draws its icons as data: SVGs from its stylesheet.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}

# Admin login lockout (django-axes): after AXES_FAILURE_LIMIT wrong passwords for one username from one address,
# that pair is refused for AXES_COOLOFF_MINUTES, even with the right password. Locking the username alone would let
# anyone lock a colleague out; locking the address alone would lock out a whole office behind one NAT.
AXES_FAILURE_LIMIT = int(os.environ.get("AXES_FAILURE_LIMIT", "10"))
AXES_COOLOFF_TIME = timedelta(minutes=int(os.environ.get("AXES_COOLOFF_MINUTES", "30")))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_CLIENT_IP_CALLABLE = "compliance.security.client_ip"
AXES_LOCKOUT_TEMPLATE = "compliance/lockout.html"
# Otherwise every manage.py command starts with an "AXES: BEGIN" line; failures and lockouts are logged regardless.
AXES_VERBOSE = False

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Each line names its request (the X-Request-ID the client got back); "-" outside requests.
    "filters": {"request_id": {"()": "compliance.request_id.RequestIDFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["request_id"], "formatter": "plain"},
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}

if env_bool("FAST_PASSWORD_HASHER"):
    # Tests create many users; the default hasher is slow on purpose.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
