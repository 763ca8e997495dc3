"""Settings, read entirely from the environment (see `.env.example` and API.md › Configuration).

The defaults serve a first local run (`make run`): SQLite and an in-process Redis. Production sets
`DATABASE_URL`, `REDIS_URL` and the keys, and `manage.py check --deploy` refuses what is unsafe.
"""

import hashlib
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import environ
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env")

# The development key is public on purpose: `users.checks` refuses it in a deploy check.
DEVELOPMENT_SECRET_KEY = "django-insecure-development-key-do-not-use-in-production"  # noqa: S105

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default=DEVELOPMENT_SECRET_KEY)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework_simplejwt.token_blacklist",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "users",
    "invites",
    "rewards",
    "web",
]
# Benchmark data tools (seed_users, bench_fixtures): `make bench` turns them on for its run.
if env.bool("BENCH_TOOLS", default=False):
    INSTALLED_APPS.append("bench_tools")

MIDDLEWARE = [
    # First: its request id and duration cover every other middleware (docs/operations.md › Logs).
    "referral_api.request_log.RequestLogMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # Page texts and the API's error messages in the request's language (Accept-Language).
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "web.middleware.ContentSecurityPolicyMiddleware",
]

ROOT_URLCONF = "referral_api.urls"
# A redirect would turn a POST into a GET and lose its body: a path without its slash is a 404.
APPEND_SLASH = False
WSGI_APPLICATION = "referral_api.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # Our override of drf-spectacular's ReDoc page (no web fonts from outside).
        "DIRS": [BASE_DIR / "referral_api" / "templates"],
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

# Database: SQLite for a first run, PostgreSQL (psycopg 3) everywhere else.
# Behind a transaction-mode PgBouncer (docs/scaling.md), DJANGO_DB_PGBOUNCER=true: a transaction
# may run on any server connection, so nothing may outlive one: no prepared statements (psycopg
# would prepare on one server connection and execute on another) and no server-side cursors
# (`QuerySet.iterator()` keeps one open across transactions).
DJANGO_DB_PGBOUNCER = env.bool("DJANGO_DB_PGBOUNCER", default=False)


def _postgres(config: dict[str, Any], *, pool_timeout: float) -> dict[str, Any]:
    # A pool per process: connections stay open (no connect per request), and a server with
    # many threads (the slow SMS gateway needs them) still opens only `max_size` of them.
    config.setdefault("OPTIONS", {})["pool"] = {
        "min_size": env.int("DJANGO_DB_POOL_MIN_SIZE", default=2),
        "max_size": env.int("DJANGO_DB_POOL_MAX_SIZE", default=16),
        "timeout": pool_timeout,
    }
    # Server-side binding lets psycopg prepare the statements a connection runs again and again
    # (the profile's, the login's), so PostgreSQL plans each once, not on every request.
    # Unnamed statements (binding without preparing) work through PgBouncer too.
    config["OPTIONS"]["server_side_binding"] = True
    prepare_threshold = env.int("DJANGO_DB_PREPARE_THRESHOLD", default=2)
    config["OPTIONS"]["prepare_threshold"] = (
        None if DJANGO_DB_PGBOUNCER or prepare_threshold == 0 else prepare_threshold
    )
    config["DISABLE_SERVER_SIDE_CURSORS"] = DJANGO_DB_PGBOUNCER
    # Django's backend, with the pool's check replaced by referral_api.database's.
    config["ENGINE"] = "referral_api.postgresql"
    return config


DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    _postgres(DATABASES["default"], pool_timeout=env.float("DJANGO_DB_POOL_TIMEOUT", default=10.0))
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("DJANGO_CONN_MAX_AGE", default=600)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# A PostgreSQL streaming replica for the reads that tolerate lag (referral_api.db_router says
# which). Its pool gives up after DJANGO_DB_REPLICA_TIMEOUT seconds, then those reads go to the
# primary for a while: a replica that is down costs one short wait, not an outage. Tests use it
# as a mirror of the test database (same name, on the replica's server).
DATABASE_REPLICA_URL = env.str("DATABASE_REPLICA_URL", default="")
if DATABASE_REPLICA_URL:
    DATABASES["replica"] = _postgres(
        env.db_url_config(DATABASE_REPLICA_URL),
        pool_timeout=env.float("DJANGO_DB_REPLICA_TIMEOUT", default=1.0),
    )
    DATABASES["replica"]["TEST"] = {"MIRROR": "default"}
DATABASE_ROUTERS = ["referral_api.db_router.ReplicaRouter"]
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Redis holds OTPs, limits and counters. Without REDIS_URL an in-process Redis (fakeredis) stands
# in, so the same Lua scripts run on a bare machine; it is one process only, and the deploy check
# refuses it. No IGNORE_EXCEPTIONS: an outage must fail loudly.
# Past one Redis (docs/scaling.md): REDIS_SENTINELS + REDIS_SENTINEL_MASTER reach the primary
# through Sentinel (django-redis's Sentinel client follows a failover; REDIS_URL then gives only
# the password and database number, its host is the master's name), or REDIS_CLUSTER=true makes
# REDIS_URL one node of a Redis Cluster (redis-py's RedisCluster, through
# referral_api.redis_store).
REDIS_URL = env.str("REDIS_URL", default="")
REDIS_SENTINELS = [
    (host, int(port))
    for host, _, port in (
        address.strip().rpartition(":") for address in env.list("REDIS_SENTINELS", default=[])
    )
]
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", default="")
REDIS_CLUSTER = env.bool("REDIS_CLUSTER", default=False)
if REDIS_SENTINELS and not REDIS_SENTINEL_MASTER:
    raise ImproperlyConfigured("REDIS_SENTINELS needs REDIS_SENTINEL_MASTER, the master's name.")
if REDIS_SENTINELS and REDIS_CLUSTER:
    raise ImproperlyConfigured("Set REDIS_SENTINELS or REDIS_CLUSTER, not both.")
if REDIS_CLUSTER and not REDIS_URL:
    raise ImproperlyConfigured("REDIS_CLUSTER needs REDIS_URL, the address of one of its nodes.")
# Failover topologies: the writes that consume a limit wait for a replica (redis_store).
REDIS_FAILS_OVER = bool(REDIS_SENTINELS) or REDIS_CLUSTER
_redis_options: dict[str, Any] = {"SOCKET_CONNECT_TIMEOUT": 1, "SOCKET_TIMEOUT": 1}
if REDIS_SENTINELS:
    _sentinel_url = urlsplit(REDIS_URL or "redis:///0")
    _credentials, _at, _host = _sentinel_url.netloc.rpartition("@")
    _netloc = f"{_credentials}{_at}{REDIS_SENTINEL_MASTER}"
    _redis_location = urlunsplit(_sentinel_url._replace(netloc=_netloc))
    REDIS_URL = REDIS_URL or _redis_location
    _redis_options |= {
        "CLIENT_CLASS": "django_redis.client.SentinelClient",
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "SENTINELS": REDIS_SENTINELS,
    }
elif REDIS_CLUSTER:
    _redis_location = REDIS_URL
    _redis_options["CONNECTION_FACTORY"] = "referral_api.redis_store.ClusterConnectionFactory"
elif REDIS_URL:
    _redis_location = REDIS_URL
else:
    _redis_location = "redis://in-process/0"
    # fakeredis is in the `local` dependency group (`make run`), not in the production image:
    # there the settings still load (collectstatic, and check --deploy, which refuses a missing
    # REDIS_URL as users.E001), and anything that reaches Redis fails to connect.
    try:
        import fakeredis
    except ImportError:
        pass
    else:
        _redis_options = {
            "CONNECTION_POOL_KWARGS": {
                "connection_class": fakeredis.FakeConnection,
                "server": fakeredis.FakeServer(),
            }
        }
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": _redis_location,
        "KEY_PREFIX": "referral",
        "OPTIONS": _redis_options,
    }
}

AUTH_USER_MODEL = "users.User"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# English, and Russian for clients that ask for it (Accept-Language): page texts and the API's
# `message`s; error `code`s never change. Catalogs: locale/, compiled by `make messages`.
LANGUAGE_CODE = "en-us"
LANGUAGES = [("en", "English"), ("ru", "Russian")]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}

# HTTPS. TLS ends at the proxy in front; production turns these on (docs/operations.md).
# Only a trusted proxy may say the original request was HTTPS.
if env.int("NUM_PROXIES", default=0) > 0:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=False)
SECURE_REDIRECT_EXEMPT = [r"^healthz/$", r"^readyz/$", r"^metrics$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = SECURE_HSTS_SECONDS > 0
SECURE_HSTS_PRELOAD = SECURE_HSTS_SECONDS > 0
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
# No script reads the CSRF cookie: the web pages' forms carry the token.
CSRF_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"

# The web interface (docs/web.md): Django sessions, separate from the API's JWTs.
LOGIN_URL = "web:home"
CSRF_FAILURE_VIEW = "web.views.csrf_failure"
# App links (docs/web.md): /.well-known/ files that let share links open the mobile apps. Each
# file is served only when its settings are set.
ANDROID_APP_PACKAGE = env.str("ANDROID_APP_PACKAGE", default="")
ANDROID_APP_SHA256_FINGERPRINTS = env.list("ANDROID_APP_SHA256_FINGERPRINTS", default=[])
APPLE_APP_TEAM_ID = env.str("APPLE_APP_TEAM_ID", default="")
APPLE_APP_BUNDLE_ID = env.str("APPLE_APP_BUNDLE_ID", default="")

# Phone login (API.md › Limits).
OTP_LENGTH = env.int("OTP_LENGTH", default=4)
OTP_TTL_SECONDS = env.int("OTP_TTL_SECONDS", default=300)
OTP_MAX_ATTEMPTS = env.int("OTP_MAX_ATTEMPTS", default=5)
OTP_RESEND_COOLDOWN_SECONDS = env.int("OTP_RESEND_COOLDOWN_SECONDS", default=60)
OTP_SENDS_PER_PHONE_PER_HOUR = env.int("OTP_SENDS_PER_PHONE_PER_HOUR", default=5)
OTP_SENDS_PER_PHONE_PER_DAY = env.int("OTP_SENDS_PER_PHONE_PER_DAY", default=10)
OTP_SENDS_PER_IP_PER_HOUR = env.int("OTP_SENDS_PER_IP_PER_HOUR", default=20)
OTP_FAILURES_PER_PHONE_PER_DAY = env.int("OTP_FAILURES_PER_PHONE_PER_DAY", default=10)
# SMS-pumping defence (docs/security.md): codes only to these countries (ISO 3166 codes; empty:
# every country), and a rolling-hour cap on codes to numbers sharing all but their last 4 digits.
OTP_ALLOWED_COUNTRIES = [code.upper() for code in env.list("OTP_ALLOWED_COUNTRIES", default=[])]
OTP_SENDS_PER_PREFIX_PER_HOUR = env.int("OTP_SENDS_PER_PREFIX_PER_HOUR", default=0)
OTP_EXPOSE_CODE = env.bool("OTP_EXPOSE_CODE", default=DEBUG)
OTP_TEST_NUMBERS = env.str("OTP_TEST_NUMBERS", default="")
INVITE_ACTIVATE_FAILURES_PER_HOUR = env.int("INVITE_ACTIVATE_FAILURES_PER_HOUR", default=10)
# Referral abuse signals (API.md › Abuse signals): past these, a referral's rewards are held.
# Off: no signal is evaluated and no referral is flagged (the sightings are still recorded, so
# turning the checks back on has their history at once).
REFERRAL_ABUSE_CHECKS = env.bool("REFERRAL_ABUSE_CHECKS", default=True)
REFERRALS_PER_OWNER_PER_HOUR = env.int("REFERRALS_PER_OWNER_PER_HOUR", default=20)
REFERRALS_PER_IP_PER_HOUR = env.int("REFERRALS_PER_IP_PER_HOUR", default=10)
PHONE_DEFAULT_REGION = env.str("PHONE_DEFAULT_REGION", default="") or None

SMS_BACKEND = env.str("SMS_BACKEND", default="users.sms.SimulatedGatewayBackend")
SMS_DELAY_MIN_SECONDS = env.float("SMS_DELAY_MIN_SECONDS", default=1.0)
SMS_DELAY_MAX_SECONDS = env.float("SMS_DELAY_MAX_SECONDS", default=2.0)
# Real providers (docs/sms.md): SMS_BACKEND=users.sms_providers.TwilioBackend or .SmsRuBackend.
# One request per message, never retried; these bound how long a login request waits for it.
SMS_CONNECT_TIMEOUT_SECONDS = env.float("SMS_CONNECT_TIMEOUT_SECONDS", default=3.0)
SMS_READ_TIMEOUT_SECONDS = env.float("SMS_READ_TIMEOUT_SECONDS", default=10.0)
TWILIO_ACCOUNT_SID = env.str("TWILIO_ACCOUNT_SID", default="")
TWILIO_AUTH_TOKEN = env.str("TWILIO_AUTH_TOKEN", default="")
TWILIO_FROM = env.str("TWILIO_FROM", default="")
TWILIO_MESSAGING_SERVICE_SID = env.str("TWILIO_MESSAGING_SERVICE_SID", default="")
TWILIO_API_BASE_URL = env.str("TWILIO_API_BASE_URL", default="https://api.twilio.com")
SMSRU_API_ID = env.str("SMSRU_API_ID", default="")
SMSRU_FROM = env.str("SMSRU_FROM", default="")
SMSRU_API_URL = env.str("SMSRU_API_URL", default="https://sms.ru/sms/send")
# Autofill lines in the login SMS (docs/sms.md › The message); `manage.py check` validates them.
OTP_WEBOTP_DOMAIN = env.str("OTP_WEBOTP_DOMAIN", default="")
OTP_ANDROID_APP_HASH = env.str("OTP_ANDROID_APP_HASH", default="")

# Tokens.
JWT_ACCESS_MINUTES = env.int("JWT_ACCESS_MINUTES", default=5)
JWT_REFRESH_DAYS = env.int("JWT_REFRESH_DAYS", default=30)
JWT_SESSION_MAX_DAYS = env.int("JWT_SESSION_MAX_DAYS", default=30)
# manage.py prune_sessions deletes sessions this many days after they ended.
SESSION_PRUNE_AFTER_DAYS = env.int("SESSION_PRUNE_AFTER_DAYS", default=30)
# Derived from the secret key under its own label, so a leaked token key never reveals the
# secret key; production sets a separate JWT_SIGNING_KEY.
_jwt_signing_key = env.str("JWT_SIGNING_KEY", default="")
JWT_SIGNING_KEY_DERIVED = not _jwt_signing_key
JWT_SIGNING_KEY = (
    _jwt_signing_key or hashlib.sha256(f"referral-api.jwt:{SECRET_KEY}".encode()).hexdigest()
)

SIMPLE_JWT = {
    "ACCESS_TOKEN_LIFETIME": timedelta(minutes=JWT_ACCESS_MINUTES),
    "REFRESH_TOKEN_LIFETIME": timedelta(days=JWT_REFRESH_DAYS),
    "ROTATE_REFRESH_TOKENS": True,
    "BLACKLIST_AFTER_ROTATION": True,
    "UPDATE_LAST_LOGIN": False,
    "ALGORITHM": "HS256",
    "SIGNING_KEY": JWT_SIGNING_KEY,
    "AUTH_HEADER_TYPES": ("Bearer",),
    "USER_ID_FIELD": "id",
    "USER_ID_CLAIM": "user_id",
}

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["users.authentication.JWTAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["referral_api.parsers.JSONParser"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "referral_api.errors.exception_handler",
    # No OPTIONS metadata: DRF's needs a view serializer_class (ours have none: a 500), and the
    # schema at /api/schema/ already describes every endpoint. OPTIONS answers 405.
    "DEFAULT_METADATA_CLASS": None,
    "NUM_PROXIES": env.int("NUM_PROXIES", default=0),
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Referral API",
    "DESCRIPTION": (
        "Sign in by phone number with a one-time SMS code, get JWTs, and track who invited whom "
        'with invite codes. Every error has the body `{"code", "message", "errors"}`; '
        "`code` is stable and part of the contract."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": "/api/v1",
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "SORT_OPERATIONS": "referral_api.openapi.operation_order",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "referral_api.openapi.add_error_examples",
    ],
    "TAGS": [
        {
            "name": "auth",
            "description": "Sign in with a one-time SMS code; rotate and revoke tokens.",
        },
        {
            "name": "profile",
            "description": "The signed-in user: invite codes, referrals and their stats.",
        },
        {"name": "rewards", "description": "The referral program: the caller's rewards ledger."},
        {"name": "leaderboard", "description": "Top referrers of a period, and the caller's rank."},
        {
            "name": "staff",
            "description": "Staff only (a Bearer token of an `is_staff` user): reward rules, "
            "the ledger of every user, credits, reversals and the whole leaderboard.",
        },
        {"name": "health", "description": "Probes for load balancers and orchestrators."},
    ],
    "SWAGGER_UI_SETTINGS": {"persistAuthorization": True, "displayOperationId": False},
}

# Production logs one JSON object a line (docs/operations.md › Logs); a development server the
# plain lines a person reads. Either way every record carries the request id.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "referral_api.log_format.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain" if DEBUG else "json",
        }
    },
    "root": {"handlers": ["console"], "level": env.str("DJANGO_LOG_LEVEL", default="INFO")},
    "loggers": {"django.server": {"level": "WARNING"}},
}

# /metrics (docs/operations.md › Metrics): off unless one of these is set. A scraper sends the
# token as `Authorization: Bearer ...`, or comes from one of the addresses (or networks, CIDR).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOWED_IPS = env.list("METRICS_ALLOWED_IPS", default=[])
