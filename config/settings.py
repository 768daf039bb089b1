"""Atelier settings: one module, every value from the environment, safe laptop defaults.

Without any variable set (and DEBUG=1) Atelier runs on SQLite, local files and a filesystem
Celery broker under `var/`. Setting DATABASE_URL, REDIS_URL / CELERY_BROKER_URL or
AWS_STORAGE_BUCKET_NAME switches to PostgreSQL, Redis and S3 respectively.
"""

from __future__ import annotations

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from csp.constants import NONCE, NONE, SELF, UNSAFE_INLINE
from django.templatetags.static import static
from django.urls import reverse_lazy

from config.env import env_bool, env_int, env_list, env_networks, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("ATELIER_VAR_DIR", str(BASE_DIR / "var")))

if (BASE_DIR / ".env").exists():
    environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

env = environ.Env()

DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env_str("SECRET_KEY") or ""
# Serving (config/wsgi.py, config/asgi.py) and `check --deploy` refuse to run without a real key
# when DEBUG is off; offline management commands (migrate, makemigrations) may, with a random key
# that signs nothing anyone could predict or reuse.
SECRET_KEY_CONFIGURED = bool(SECRET_KEY) or DEBUG
if not SECRET_KEY:
    SECRET_KEY = ("insecure-local-development-key-do-not-use-in-production" if DEBUG
                  else secrets.token_urlsafe(64))

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "unfold",
    "unfold.contrib.filters",
    "config.apps.AtelierAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "django_celery_results",
    "axes",
    "csp",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "core",
    "accounts",
    "compliance",
    "content",
    "scheduling",
    "analytics",
    "notifications",
    "inbox",
    "demo",
]

MIDDLEWARE = [
    "config.observability.RequestIdMiddleware",
    "config.observability.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "accounts.middleware.AuditContextMiddleware",
    "accounts.middleware.ViewerTimezoneMiddleware",
    "accounts.middleware.RequireTwoFactorMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "OPTIONS": {
            # App templates load through core.template_patches (unfold's few Alpine expressions that the
            # CSP build of Alpine cannot interpret are rewritten there); cached as Django would anyway.
            "loaders": [("django.template.loaders.cached.Loader", [
                "django.template.loaders.filesystem.Loader",
                "core.template_patches.Loader",
            ])],
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {"default": env.db_url("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'atelier.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    # Web, worker and beat share the file: WAL and IMMEDIATE transactions avoid "database is locked".
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
         "transaction_mode": "IMMEDIATE", "timeout": 20}
    )
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"

# --- Cache and Redis -----------------------------------------------------------------------------
REDIS_URL = env_str("REDIS_URL", "")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Auth, sessions, lockout, two-factor ------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = reverse_lazy("admin:login")
LOGIN_REDIRECT_URL = reverse_lazy("admin:index")
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 30))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_VERBOSE = False
# Staff must confirm a TOTP code after the password when this is on (recommended in production).
ATELIER_REQUIRE_2FA = env_bool("ATELIER_REQUIRE_2FA", not DEBUG)
OTP_TOTP_ISSUER = "Atelier"

SESSION_COOKIE_AGE = env_int("SESSION_COOKIE_AGE", 60 * 60 * 12)
SESSION_COOKIE_SECURE = env_bool("SESSION_COOKIE_SECURE", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("CSRF_COOKIE_SECURE", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", not DEBUG)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^health/$", r"^metrics$"]
if env_bool("BEHIND_TLS_PROXY", not DEBUG):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
X_FRAME_OPTIONS = "DENY"

# --- Time and language ---------------------------------------------------------------------------
LANGUAGE_CODE = "en"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

# --- Files -------------------------------------------------------------------------------------
STATIC_URL = "/static/"
STATIC_ROOT = VAR_DIR / "static"
MEDIA_URL = "/media/"
MEDIA_ROOT = VAR_DIR / "media"
PRIVATE_ROOT = VAR_DIR / "private"  # originals, export bundles, identity documents: never served by path

AWS_STORAGE_BUCKET_NAME = env_str("AWS_STORAGE_BUCKET_NAME", "")
AWS_PRIVATE_BUCKET_NAME = env_str("AWS_PRIVATE_BUCKET_NAME", "") or AWS_STORAGE_BUCKET_NAME
AWS_S3_ENDPOINT_URL = env_str("AWS_S3_ENDPOINT_URL", "") or None
AWS_S3_REGION_NAME = env_str("AWS_S3_REGION_NAME", "us-east-1")
AWS_ACCESS_KEY_ID = env_str("AWS_ACCESS_KEY_ID", "") or None
AWS_SECRET_ACCESS_KEY = env_str("AWS_SECRET_ACCESS_KEY", "") or None

if AWS_STORAGE_BUCKET_NAME:
    _s3 = {
        "access_key": AWS_ACCESS_KEY_ID,
        "secret_key": AWS_SECRET_ACCESS_KEY,
        "endpoint_url": AWS_S3_ENDPOINT_URL,
        "region_name": AWS_S3_REGION_NAME,
        "file_overwrite": False,
        "querystring_auth": True,
        "default_acl": None,
        "signature_version": "s3v4",
        "addressing_style": "path" if AWS_S3_ENDPOINT_URL else None,
    }
    _default_storage = {"BACKEND": "storages.backends.s3.S3Storage",
                        "OPTIONS": {**_s3, "bucket_name": AWS_STORAGE_BUCKET_NAME}}
    _private_storage = {"BACKEND": "storages.backends.s3.S3Storage",
                        "OPTIONS": {**_s3, "bucket_name": AWS_PRIVATE_BUCKET_NAME, "location": "private",
                                    "querystring_expire": 60}}
else:
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage",
                        "OPTIONS": {"location": MEDIA_ROOT, "base_url": MEDIA_URL}}
    _private_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage",
                        "OPTIONS": {"location": PRIVATE_ROOT, "base_url": None}}

STORAGES = {
    "default": _default_storage,
    "private": _private_storage,
    "staticfiles": {"BACKEND": env_str("STATICFILES_BACKEND",
                                       "django.contrib.staticfiles.storage.StaticFilesStorage")},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = env_int("DATA_UPLOAD_MAX_MEMORY_SIZE", 10 * 1024 * 1024)

# Content-Security-Policy (django-csp), in DEBUG too. Scripts only from our own static files (or an
# inline block carrying the request's nonce): no 'unsafe-eval' — the admin runs Alpine's CSP build, see
# core/static/core/admin.js. Styles allow inline: unfold and Chart.js set style attributes.
_s3_origins: list[str] = []
if AWS_STORAGE_BUCKET_NAME:
    _s3_origins = (["/".join(AWS_S3_ENDPOINT_URL.split("/", 3)[:3])] if AWS_S3_ENDPOINT_URL else
                   [f"https://{bucket}.s3.{AWS_S3_REGION_NAME}.amazonaws.com"
                    for bucket in sorted({AWS_STORAGE_BUCKET_NAME, AWS_PRIVATE_BUCKET_NAME})]
                   + [f"https://s3.{AWS_S3_REGION_NAME}.amazonaws.com"])
# Where media may be shown from besides our own origin (presigned S3 links, a CDN).
CSP_MEDIA_ORIGINS = env_list("CSP_MEDIA_ORIGINS", _s3_origins)
_CSP_REPORT_URI = env_str("CSP_REPORT_URI", "") or ""  # where browsers report violations, if anywhere
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF, NONCE],
        "style-src": [SELF, UNSAFE_INLINE],
        "img-src": [SELF, "data:", *CSP_MEDIA_ORIGINS],
        "media-src": [SELF, *CSP_MEDIA_ORIGINS],
        "font-src": [SELF, "data:"],
        "connect-src": [SELF],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
        **({"report-uri": _CSP_REPORT_URI} if _CSP_REPORT_URI else {}),
    },
}

# --- Celery ------------------------------------------------------------------------------------
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "") or REDIS_URL or "filesystem://"
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
else:
    # Redis: a task not acknowledged within this window is redelivered (acks_late).
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3600)}
CELERY_RESULT_BACKEND = env_str("CELERY_RESULT_BACKEND", "django-db")
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = timedelta(days=7)
CELERY_TIMEZONE = "UTC"
CELERY_ENABLE_UTC = True
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 270)
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
# The calendar's control tasks run on their own queue and worker (`make run`, compose): a backlog of
# publish batches or renditions on the default queue can never make them wait and expire.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {name: {"queue": env_str("SCHEDULING_CONTROL_QUEUE", "control")} for name in (
    "scheduling.tasks.dispatch_due", "scheduling.tasks.reap_leases", "scheduling.tasks.reconcile_unknown",
    "scheduling.tasks.refresh_tokens", "inbox.sync.reconcile_fanvue_accounts", "inbox.polling.poll_chat_accounts",
    "inbox.tasks.deliver_due", "inbox.tasks.reap_sending", "inbox.tasks.settle_unknown",
    "analytics.tasks.process_pending_events",
)}
DJANGO_CELERY_BEAT_TZ_AWARE = True

# --- REST API ----------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.ApiKeyAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["accounts.api.permissions.IsStaffOrApiKey"],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.CursorPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "config.api_schema.AutoSchema",
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser", "rest_framework.parsers.FormParser",
                               "rest_framework.parsers.MultiPartParser"],
    "EXCEPTION_HANDLER": "core.api.errors.exception_handler",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer",
                                 "rest_framework.renderers.BrowsableAPIRenderer"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
# How long the answer to a POST sent with an `Idempotency-Key` is kept and answered again to retries.
IDEMPOTENCY_KEY_HOURS = env_int("IDEMPOTENCY_KEY_HOURS", 24)
SPECTACULAR_SETTINGS = {
    "TITLE": "Atelier API",
    "DESCRIPTION": "Internal API of the Atelier back-office. Authenticate with `Authorization: Bearer atl_…`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files: the Content-Security-Policy allows no third-party script.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "PublicationStatusEnum": "scheduling.models.Publication.Status",
        "PlatformEnum": "scheduling.models.Platform",
        "SourcePlatformEnum": "analytics.models.SOURCE_PLATFORMS",
        "AssetStatusEnum": "content.models.Asset.Status",
        "CaptionPlatformEnum": "content.models.CAPTION_PLATFORMS",
        "GenerationJobKindEnum": "content.models.GenerationJob.Kind",
        "GenerationJobStatusEnum": "content.models.GenerationJob.Status",
        "GenerationBackendKindEnum": "content.models.GenerationBackend.Kind",
        "ContentRatingEnum": "compliance.models.RATING_CHOICES",
        "MessageOriginEnum": "inbox.models.Message.Origin",
        "AssetOriginEnum": "content.models.Asset.Origin",
        "ConversationStatusEnum": "inbox.models.Conversation.Status",
    },
}

# --- Observability -----------------------------------------------------------------------------
METRICS_TOKEN = env_str("METRICS_TOKEN", "")
LOG_LEVEL = env_str("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"context": {"()": "config.observability.LogContextFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s %(task_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        },
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json", "filters": ["context"]}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.request": {"level": "WARNING"},
        "django.server": {"level": "WARNING"},
        "axes": {"level": "WARNING"},
        "celery": {"level": LOG_LEVEL},
    },
}

# --- Email -------------------------------------------------------------------------------------
EMAIL_BACKEND = env_str("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "atelier@localhost")
if env_str("EMAIL_URL"):
    vars().update(env.email_url("EMAIL_URL"))

# --- Admin (django-unfold) -------------------------------------------------------------------------
UNFOLD = {
    "SITE_TITLE": "Atelier",
    "SITE_HEADER": "Atelier",
    "SITE_SUBHEADER": "Agency back-office",
    "SITE_SYMBOL": "palette",
    # Before Alpine starts: registers unfold's components with Alpine's CSP build, replaces inline handlers.
    "SCRIPTS": [lambda request: static("core/admin.js")],
    "SHOW_HISTORY": True,
    "DASHBOARD_CALLBACK": "config.dashboard.dashboard_callback",
    "ENVIRONMENT": "config.dashboard.environment_callback",
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": "config.navigation.sidebar",
    },
}

# --- Compliance ------------------------------------------------------------------------------------
# Fernet keys, comma-separated; the first encrypts, all decrypt (rotate by prepending a new key).
ATELIER_ENCRYPTION_KEYS = env_list("ATELIER_ENCRYPTION_KEYS", [])
# TAKE IT DOWN Act: removal within 48 h of a valid request. May be set shorter, never longer: a value
# outside (0, 48] stops start-up (compliance.checks) rather than being clamped.
TAKEDOWN_DEADLINE_HOURS = env_int("TAKEDOWN_DEADLINE_HOURS", 48)
# Card-network complaints (Mastercard/Visa adult-content rules): 7 business days, (0, 7] likewise.
COMPLAINT_DEADLINE_BUSINESS_DAYS = env_int("COMPLAINT_DEADLINE_BUSINESS_DAYS", 7)
# Business days are the agency's: counted on its clock, skipping weekends and the public holidays of
# its country (ISO code as the `holidays` library names it; empty: weekends only) and subdivision.
AGENCY_TIMEZONE = env_str("AGENCY_TIMEZONE", "UTC") or "UTC"
AGENCY_HOLIDAYS_COUNTRY = (env_str("AGENCY_HOLIDAYS_COUNTRY", "US") or "").strip().upper()
AGENCY_HOLIDAYS_SUBDIVISION = (env_str("AGENCY_HOLIDAYS_SUBDIVISION", "") or "").strip().upper()
# Extra hard-blocked terms (comma-separated). The built-in list can only be extended, never reduced.
COMPLIANCE_EXTRA_BLOCKED_TERMS = env_list("COMPLIANCE_EXTRA_BLOCKED_TERMS", [])
CONSENT_EXPIRY_WARNING_DAYS = (30, 7, 1)

# --- Content -------------------------------------------------------------------------------------
CONTENT_MAX_UPLOAD_BYTES = env_int("CONTENT_MAX_UPLOAD_MB", 2048) * 1024 * 1024
CONTENT_LIMITS = {
    "max_pixels": env_int("CONTENT_MAX_MEGAPIXELS", 120) * 1_000_000,
    "max_image_bytes": env_int("CONTENT_MAX_IMAGE_MB", 200) * 1024 * 1024,
    "max_video_seconds": env_int("CONTENT_MAX_VIDEO_SECONDS", 3 * 3600),
    "max_video_bytes": CONTENT_MAX_UPLOAD_BYTES,
    # Decoding every frame and page of an image together: animations composite each frame onto
    # the whole canvas, so a few kilobytes can declare gigapixels.
    "max_total_pixels": env_int("CONTENT_MAX_TOTAL_MEGAPIXELS", 500) * 1_000_000,
    "max_frames": env_int("CONTENT_MAX_FRAMES", 1000),
    # Address space of the ffmpeg that reads an upload's headers in the web request.
    "probe_memory_bytes": env_int("CONTENT_PROBE_MEMORY_MB", 1024) * 1024 * 1024,
}
# Decoding and rendering run in a child of the worker with this address space and deadline; the
# processing task's own time limits sit just above it, and the reaper fails processing older than it.
CONTENT_RENDER_MEMORY_BYTES = env_int("CONTENT_RENDER_MEMORY_MB", 3072) * 1024 * 1024
CONTENT_PROCESSING_SECONDS = env_int("CONTENT_PROCESSING_SECONDS", 1800)
FILE_UPLOAD_TEMP_DIR = env_str("FILE_UPLOAD_TEMP_DIR", "") or None
# Nothing in either storage is served by path. People get signed links that expire: an original's
# (a download, after a tenancy check, audited) lives this many seconds, a rendition's in the API this many.
SIGNED_ORIGINAL_URL_TTL_SECONDS = env_int("SIGNED_ORIGINAL_URL_TTL_SECONDS", 60)
SIGNED_MEDIA_URL_TTL_SECONDS = env_int("SIGNED_MEDIA_URL_TTL_SECONDS", 3600)

# --- AI studio ---------------------------------------------------------------------------------------
# C2PA signing: the agency's certificate chain (leaf first, PEM) and its private key. Unset with DEBUG on,
# a development CA is created under var/c2pa-dev on first use; unset with DEBUG off, image jobs fail
# with a clear message rather than producing unlabelled AI images.
C2PA_SIGNING_CERT_CHAIN = env_str("C2PA_SIGNING_CERT_CHAIN", "") or ""
C2PA_SIGNING_KEY = env_str("C2PA_SIGNING_KEY", "") or ""
C2PA_SIGNING_ALG = env_str("C2PA_SIGNING_ALG", "es256") or "es256"
C2PA_TIMESTAMP_URL = env_str("C2PA_TIMESTAMP_URL", "") or ""
# Extra trust anchors (PEM file) for validating manifests; the dev CA is trusted in DEBUG.
C2PA_TRUST_ANCHORS = env_str("C2PA_TRUST_ANCHORS", "") or ""
# Backends from the environment (kept in sync with admin rows marked "from environment").
GENERATION_IMAGE_KIND = env_str("GENERATION_IMAGE_KIND", "comfyui") or "comfyui"
GENERATION_IMAGE_URL = env_str("GENERATION_IMAGE_URL", "") or ""
GENERATION_IMAGE_MODEL = env_str("GENERATION_IMAGE_MODEL", "") or ""
GENERATION_IMAGE_API_KEY = env_str("GENERATION_IMAGE_API_KEY", "") or ""
GENERATION_TEXT_URL = env_str("GENERATION_TEXT_URL", "") or ""
GENERATION_TEXT_MODEL = env_str("GENERATION_TEXT_MODEL", "") or ""
GENERATION_TEXT_API_KEY = env_str("GENERATION_TEXT_API_KEY", "") or ""
# A backend that refused the connection is retried this many times (backoff with jitter) before the job fails.
GENERATION_MAX_RETRIES = env_int("GENERATION_MAX_RETRIES", 4)
# Caption suggestions in the post form wait this long for a text model, then fall back to templates.
GENERATION_CAPTION_TIMEOUT_SECONDS = env_int("GENERATION_CAPTION_TIMEOUT_SECONDS", 20)

# --- Scheduling ----------------------------------------------------------------------------------
SCHEDULING_CLAIM_BATCH = env_int("SCHEDULING_CLAIM_BATCH", 500)
# How long a claimed row may wait in the queue for a worker before the reaper returns it (its message
# may be lost: the broker restarted, or the worker holding it was killed). A row reaped while its
# message still waits is claimed again; whichever message comes first publishes it, once.
SCHEDULING_LEASE_SECONDS = env_int("SCHEDULING_LEASE_SECONDS", 60)
# Once a worker runs a batch, its rows — those waiting their turn and the one being called — are held
# in short leases renewed by a thread every third of this while the worker lives: a killed worker's
# rows are back on the calendar (or `unknown`, the one row it was calling) within this plus a reaper
# tick. Shorter costs more renewals (one UPDATE per running batch per third); a database stall longer
# than this makes a live call's row `unknown` (then looked up, never sent twice).
SCHEDULING_RUN_LEASE_SECONDS = env_int("SCHEDULING_RUN_LEASE_SECONDS", 10)
# A platform concurrency slot's lease, renewed by its holder every third of it.
SCHEDULING_SLOT_LEASE_SECONDS = env_int("SCHEDULING_SLOT_LEASE_SECONDS", 15)
SCHEDULING_MISSED_AFTER_SECONDS = env_int("SCHEDULING_MISSED_AFTER_SECONDS", 6 * 3600)
SCHEDULING_MAX_ATTEMPTS = env_int("SCHEDULING_MAX_ATTEMPTS", 5)
# platform=dotted.path pairs, e.g. "fanvue=tests.fakes.FanvueFake": points connectors at local fakes.
SCHEDULING_CONNECTORS: dict[str, str] = dict(
    item.split("=", 1) for item in env_list("SCHEDULING_CONNECTORS", []) if "=" in item)
SCHEDULING_DISPATCH_SECONDS = env_int("SCHEDULING_DISPATCH_SECONDS", 25)
# Beat periods of the dispatcher, the lease reaper and the lookup of unknown outcomes.
SCHEDULING_DISPATCH_EVERY_SECONDS = env_int("SCHEDULING_DISPATCH_EVERY_SECONDS", 30)
SCHEDULING_REAP_EVERY_SECONDS = env_int("SCHEDULING_REAP_EVERY_SECONDS", 5)
SCHEDULING_RECONCILE_EVERY_SECONDS = env_int("SCHEDULING_RECONCILE_EVERY_SECONDS", 60)
# The inbox's Fanvue reconciliation (webhooks bring messages at once; this picks up lost deliveries).
INBOX_FANVUE_RECONCILE_SECONDS = env_int("INBOX_FANVUE_RECONCILE_SECONDS", 180)
# One reconcile run works through the unknown rows batch after batch for at most this long.
SCHEDULING_RECONCILE_SECONDS = env_int("SCHEDULING_RECONCILE_SECONDS", 50)
# Control tasks (dispatch, reap, reconcile, token refresh) have their own queue and worker, so no
# backlog of publish batches can delay them (routes: CELERY_TASK_ROUTES).
SCHEDULING_CONTROL_QUEUE = env_str("SCHEDULING_CONTROL_QUEUE", "control")
# Rows per publish task: the gate's facts, locks and audit events are handled per batch.
SCHEDULING_PUBLISH_CHUNK = env_int("SCHEDULING_PUBLISH_CHUNK", 25)
# Concurrent publishes per platform across all workers ("platform=n" pairs); 0 = no cap.
SCHEDULING_DEFAULT_CONCURRENCY = env_int("SCHEDULING_DEFAULT_CONCURRENCY", 4)
SCHEDULING_PLATFORM_CONCURRENCY: dict[str, int] = {
    k: int(v) for k, v in (item.split("=", 1) for item in env_list("SCHEDULING_PLATFORM_CONCURRENCY", [])
                           if "=" in item)}

# --- Inbox: the send pipeline ---------------------------------------------------------------------
# Beat periods of the delivery of queued messages, the reaper of stuck sends and the lookup of unknown ones.
INBOX_DELIVER_EVERY_SECONDS = env_int("INBOX_DELIVER_EVERY_SECONDS", 10)
INBOX_REAP_EVERY_SECONDS = env_int("INBOX_REAP_EVERY_SECONDS", 15)
INBOX_SETTLE_EVERY_SECONDS = env_int("INBOX_SETTLE_EVERY_SECONDS", 60)
# How long a message handed to a worker may wait for it before another delivery run hands it out again.
INBOX_CLAIM_LEASE_SECONDS = env_int("INBOX_CLAIM_LEASE_SECONDS", 60)
INBOX_CLAIM_BATCH = env_int("INBOX_CLAIM_BATCH", 200)
INBOX_MAX_ATTEMPTS = env_int("INBOX_MAX_ATTEMPTS", 6)
# After an unknown outcome, the platform's chat is read back once this long has passed (it may still be
# taking the request in).
INBOX_SETTLE_SECONDS = env_int("INBOX_SETTLE_SECONDS", 30)
# Told to a fan in the first AI message of a conversation (EU AI Act Art. 50(1), California SB 1001 / SB 243).
# An empty value falls back to the default: the disclosure cannot be switched off.
_AI_DISCLOSURE = "Just so you know: you are chatting with an AI persona, not a real person."
INBOX_AI_DISCLOSURE = (env_str("INBOX_AI_DISCLOSURE", _AI_DISCLOSURE) or "").strip() or _AI_DISCLOSURE

# --- Analytics -----------------------------------------------------------------------------------
# Reports and rollups are in this currency; transactions keep their own.
ANALYTICS_CURRENCY = env_str("ANALYTICS_CURRENCY", "USD")
# Fanvue webhook signatures older than this are refused (replay protection).
FANVUE_WEBHOOK_TOLERANCE_SECONDS = env_int("FANVUE_WEBHOOK_TOLERANCE_SECONDS", 300)
# [analytics-ingest]
# Metric sync measures publications published within this many days, each at most once per interval.
ANALYTICS_METRICS_WINDOW_DAYS = env_int("ANALYTICS_METRICS_WINDOW_DAYS", 30)
ANALYTICS_METRICS_INTERVAL_MINUTES = env_int("ANALYTICS_METRICS_INTERVAL_MINUTES", 25)
# [analytics-import]
# [analytics-rollups]
# A fan is a whale from this lifetime net spend (agency minor units) even outside the top 5 %; 0 = top 5 % only.
ANALYTICS_WHALE_MIN_SPEND_MINOR = env_int("ANALYTICS_WHALE_MIN_SPEND_MINOR", 0)
# The nightly rollup also recomputes past days that received transactions recorded in this window.
ANALYTICS_LATE_DATA_LOOKBACK_HOURS = env_int("ANALYTICS_LATE_DATA_LOOKBACK_HOURS", 48)
# [analytics-dashboard]

# --- Connectors -------------------------------------------------------------------------------
# Every base URL comes from the environment so tests, staging and `make run` demos can point a
# connector at a local server that speaks the platform's wire format.
CONNECTOR_TIMEOUT_SECONDS = env_int("CONNECTOR_TIMEOUT_SECONDS", 30)
# [fanvue-x]
# OAuth apps (developer portals: fanvue.com/developers/apps, developer.x.com). Redirect URIs are
# derived from the request when empty; set them when Atelier sits behind a proxy.
FANVUE_CLIENT_ID = env_str("FANVUE_CLIENT_ID", "") or ""
FANVUE_CLIENT_SECRET = env_str("FANVUE_CLIENT_SECRET", "") or ""
FANVUE_AUTH_URL = env_str("FANVUE_AUTH_URL", "https://auth.fanvue.com/oauth2/auth") or ""
FANVUE_TOKEN_URL = env_str("FANVUE_TOKEN_URL", "https://auth.fanvue.com/oauth2/token") or ""
FANVUE_API_URL = env_str("FANVUE_API_URL", "https://api.fanvue.com") or ""
FANVUE_WEB_URL = env_str("FANVUE_WEB_URL", "https://www.fanvue.com") or ""
FANVUE_API_VERSION = env_str("FANVUE_API_VERSION", "2025-06-26") or ""
FANVUE_REDIRECT_URI = env_str("FANVUE_REDIRECT_URI", "") or ""
# Agency apps posting for their creators add read:creator,write:creator.
# The inbox reads and answers chats: read:chat, write:chat, read:fan.
FANVUE_SCOPES = env_list("FANVUE_SCOPES", ["openid", "offline_access", "read:self", "read:post", "write:post",
                                           "read:media", "write:media", "read:chat", "write:chat", "read:fan"])
# S3 multipart parts: at least 5 MiB except the last.
FANVUE_UPLOAD_PART_BYTES = env_int("FANVUE_UPLOAD_PART_BYTES", 10 * 1024 * 1024)
FANVUE_MEDIA_WAIT_SECONDS = env_int("FANVUE_MEDIA_WAIT_SECONDS", 120)
FANVUE_MEDIA_POLL_SECONDS = env_int("FANVUE_MEDIA_POLL_SECONDS", 3)
X_CLIENT_ID = env_str("X_CLIENT_ID", "") or ""
X_CLIENT_SECRET = env_str("X_CLIENT_SECRET", "") or ""
X_AUTH_URL = env_str("X_AUTH_URL", "https://x.com/i/oauth2/authorize") or ""
X_TOKEN_URL = env_str("X_TOKEN_URL", "https://api.x.com/2/oauth2/token") or ""
X_API_URL = env_str("X_API_URL", "https://api.x.com") or ""
X_WEB_URL = env_str("X_WEB_URL", "https://x.com") or ""
X_REDIRECT_URI = env_str("X_REDIRECT_URI", "") or ""
# dm.read and dm.write: the inbox reads and answers the account's direct messages (inbox.channels.x).
X_SCOPES = env_list("X_SCOPES", ["tweet.read", "tweet.write", "users.read", "media.write", "offline.access",
                                 "dm.read", "dm.write"])
# APPEND segments: at most 5 MB each.
X_UPLOAD_CHUNK_BYTES = env_int("X_UPLOAD_CHUNK_BYTES", 4 * 1024 * 1024)
X_MEDIA_WAIT_SECONDS = env_int("X_MEDIA_WAIT_SECONDS", 180)
# After this long (plus the client timeout) a post missing from the account's own timeline was never
# created, and an outcome left unknown goes back to the calendar. Longer is safer against a lagging
# timeline (a lag past it would publish twice), shorter brings such posts out sooner.
X_LOOKUP_SETTLE_SECONDS = env_int("X_LOOKUP_SETTLE_SECONDS", 30)
OAUTH_TOKEN_TIMEOUT_SECONDS = env_int("OAUTH_TOKEN_TIMEOUT_SECONDS", 20)
# Connected accounts whose token expires within this many seconds are refreshed by the beat job.
SCHEDULING_REFRESH_AHEAD_SECONDS = env_int("SCHEDULING_REFRESH_AHEAD_SECONDS", 30 * 60)
# [reddit-telegram-bluesky-instagram]
# Reddit: OAuth API host, token host, the "script"/"web" app's client, and the User-Agent Reddit's
# API rules require (<platform>:<app id>:<version> (by /u/<username>)); generic agents are throttled.
REDDIT_API_URL = (env_str("REDDIT_API_URL", "https://oauth.reddit.com") or "").rstrip("/")
REDDIT_AUTH_URL = (env_str("REDDIT_AUTH_URL", "https://www.reddit.com") or "").rstrip("/")
REDDIT_CLIENT_ID = env_str("REDDIT_CLIENT_ID", "") or ""
REDDIT_CLIENT_SECRET = env_str("REDDIT_CLIENT_SECRET", "") or ""
REDDIT_USER_AGENT = env_str("REDDIT_USER_AGENT", "web:atelier-backoffice:1.0 (by /u/atelier-agency)") or ""
# Telegram Bot API host (a self-hosted telegram-bot-api server raises the 50 MB upload cap).
TELEGRAM_API_URL = (env_str("TELEGRAM_API_URL", "https://api.telegram.org") or "").rstrip("/")
# Bluesky: the PDS every account signs in to (the app password goes nowhere else).
BLUESKY_PDS_URL = (env_str("BLUESKY_PDS_URL", "https://bsky.social") or "").rstrip("/")
# Instagram API with Instagram Login (graph.instagram.com), versioned paths.
INSTAGRAM_GRAPH_URL = (env_str("INSTAGRAM_GRAPH_URL", "https://graph.instagram.com") or "").rstrip("/")
INSTAGRAM_API_VERSION = env_str("INSTAGRAM_API_VERSION", "v23.0") or "v23.0"
# Instagram fetches media by URL. On S3 it gets a presigned URL of the object; on local disk a signed
# /files/ link under this origin, Atelier's own public address (empty = cannot publish from local disk).
# INSTAGRAM_MEDIA_URL_FUNCTION may name another `media_url(item) -> str` callable (e.g. a CDN's signer).
INSTAGRAM_MEDIA_URL_BASE = (env_str("INSTAGRAM_MEDIA_URL_BASE", "") or "").rstrip("/")
INSTAGRAM_MEDIA_URL_FUNCTION = env_str("INSTAGRAM_MEDIA_URL_FUNCTION", "") or ""
INSTAGRAM_MEDIA_URL_TTL_SECONDS = env_int("INSTAGRAM_MEDIA_URL_TTL_SECONDS", 3600)
# Media containers are processed asynchronously: poll every N seconds, at most M times.
INSTAGRAM_CONTAINER_POLL_SECONDS = env_int("INSTAGRAM_CONTAINER_POLL_SECONDS", 5)
INSTAGRAM_CONTAINER_POLL_ATTEMPTS = env_int("INSTAGRAM_CONTAINER_POLL_ATTEMPTS", 60)
# httpx logs every request URL at INFO; the Telegram bot token is part of the URL path.
LOGGING["loggers"].setdefault("httpx", {"level": "WARNING"})
# [manual-notifications]
# Absolute links in notification emails and webhook payloads point here (the admin's origin).
ATELIER_BASE_URL = (env_str("ATELIER_BASE_URL", "http://localhost:8000") or "").rstrip("/")
# A webhook delivery is tried this many times (exponential backoff with jitter), then marked failed.
WEBHOOK_MAX_ATTEMPTS = env_int("WEBHOOK_MAX_ATTEMPTS", 8)
WEBHOOK_TIMEOUT_SECONDS = env_int("WEBHOOK_TIMEOUT_SECONDS", 5)
# Outbound calls to URLs people enter (webhook receivers, generation backends) go to public addresses
# only; loopback, private, link-local… targets need their network listed here (comma-separated CIDRs,
# e.g. 10.20.0.0/16, or 127.0.0.1/32 for a ComfyUI on this machine). See core/outbound.py.
OUTBOUND_ALLOWED_NETWORKS = env_networks("OUTBOUND_ALLOWED_NETWORKS")
# [calendar]
# Calendar feed links stop working (410) this many days after their key was made, until the user rotates it.
CALENDAR_FEED_MAX_AGE_DAYS = env_int("CALENDAR_FEED_MAX_AGE_DAYS", 180)
# [api]
# [inbox-privacy]
# Fans' messages are personal data: the words, raw payloads and media links of messages older than this
# many days are purged nightly (the rows and their money facts stay). The agency's retention period.
INBOX_RETENTION_DAYS = env_int("INBOX_RETENTION_DAYS", 730)
