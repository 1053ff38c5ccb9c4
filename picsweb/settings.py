"""Settings for picsweb, read from the environment (see the README's table).

Without any environment the product runs on embedded defaults under ``var/``: a SQLite file
set up for several processes, kombu's filesystem broker and a file-based cache. With
``DJANGO_ENV=production`` the secrets must come from the environment.
"""

import secrets
from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
DJANGO_ENV = env.str("DJANGO_ENV", default="development")
PRODUCTION = DJANGO_ENV == "production"

LOCAL_SECRETS_FILE = VAR_DIR / "local-secrets.env"


def _local_secrets() -> dict[str, str]:
    """Secrets for development and tests, generated once into a git-ignored file."""
    if not LOCAL_SECRETS_FILE.exists():
        VAR_DIR.mkdir(exist_ok=True)
        LOCAL_SECRETS_FILE.write_text(
            "# Generated for this checkout only; never used in production.\n"
            f"SECRET_KEY={secrets.token_urlsafe(50)}\n"
            f"FIELD_ENCRYPTION_KEY={Fernet.generate_key().decode()}\n"
        )
        LOCAL_SECRETS_FILE.chmod(0o600)
    values = {}
    for line in LOCAL_SECRETS_FILE.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, value = line.partition("=")
            values[name] = value
    return values


def _secret(name: str) -> str:
    if name in env:
        return env.str(name)
    if PRODUCTION:
        raise ImproperlyConfigured(f"{name} must be set when DJANGO_ENV=production.")
    return _local_secrets()[name]


SECRET_KEY = _secret("SECRET_KEY")


# Encrypts the Smart Assessor password and client key. A key of its own, so rotating
# SECRET_KEY never makes stored credentials unreadable. Comma-separate to rotate: the
# first key encrypts, every key decrypts.
def _field_encryption_keys(value: str) -> list[str]:
    """Each comma-separated key, checked now: a malformed one must stop the start, with its
    variable named, not fail deep in cryptography when a secret is first read or written."""
    keys = [key.strip() for key in value.split(",")]
    for number, key in enumerate(keys, start=1):
        try:
            Fernet(key.encode())
        except ValueError:
            where = f"key {number} of {len(keys)}" if len(keys) > 1 else "the key"
            raise ImproperlyConfigured(
                f"FIELD_ENCRYPTION_KEY is malformed ({where}): each comma-separated key must be "
                "a Fernet key, 32 random bytes in URL-safe base64 (44 characters ending in '='), "
                "e.g. from python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'."
            ) from None
    return keys


FIELD_ENCRYPTION_KEYS = _field_encryption_keys(_secret("FIELD_ENCRYPTION_KEY"))

# Off unless a developer asks (DEBUG=true): `make run` shows the product's error pages, never
# Django's technical ones. WhiteNoise serves the static files from the apps' folders without
# collectstatic, which runserver does only with DEBUG.
DEBUG = env.bool("DEBUG", default=False)
WHITENOISE_USE_FINDERS = not PRODUCTION
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=[] if PRODUCTION else ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "picsweb.apps.PicswebAdminConfig",
    "picsweb.apps.PicswebConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "django_celery_beat",
    "axes",
    "csp",
    "learners",
    "imports",
    "smartassessor",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "picsweb.middleware.RefuseNulMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    "picsweb.middleware.NoStoreForSignedInMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    # Last, as django-axes asks: it turns a refused sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "picsweb.urls"
WSGI_APPLICATION = "picsweb.wsgi.application"

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
                "picsweb.context_processors.navigation",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'picsweb.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Several processes (web, worker, beat) share the file: WAL lets readers and one writer
    # work together, IMMEDIATE takes the write lock when a transaction starts (no upgrade
    # deadlocks), and the timeout makes a writer wait for the lock instead of failing.
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        }
    )
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache ----------------------------------------------------------------------------------
CACHES = {"default": env.cache("CACHE_URL", default=f"filecache://{VAR_DIR / 'cache'}")}

# --- Auth -----------------------------------------------------------------------------------
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
AUTHENTICATION_BACKENDS = [
    # First, so a locked-out sign-in is refused before the password is even checked.
    "picsweb.authentication.SignInThrottleBackend",
    "django.contrib.auth.backends.ModelBackend",
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "learners:list"
LOGOUT_REDIRECT_URL = "login"

# --- Email (password reset) -----------------------------------------------------------------
# EMAIL_URL (e.g. smtp+tls://user:password@mail.example:587) configures the mail server. Without
# it, development and `make run` print each mail to the web process's output (the console
# backend), and production sends none: the password reset link is hidden and its pages answer
# 404, so nobody waits for a mail that was never sent.
if "EMAIL_URL" in env:
    vars().update(env.email_url("EMAIL_URL"))
elif not PRODUCTION:
    EMAIL_BACKEND = "django.core.mail.backends.console.EmailBackend"
PASSWORD_RESET_ENABLED = "EMAIL_URL" in env or not PRODUCTION
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="picsweb <no-reply@localhost>")

# --- Locale ---------------------------------------------------------------------------------
LANGUAGE_CODE = "en-gb"
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True
# Dates and times as people read them (1 Dec 2026, 1 Dec 2026 14:05): the locale's format
# module wins over DATE_FORMAT and the like here, so they live in picsweb/formats/en_GB.
FORMAT_MODULE_PATH = "picsweb.formats"

# --- Static files ---------------------------------------------------------------------------
STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
# Only production serves collected files (the image runs collectstatic). Elsewhere WhiteNoise
# serves them from the apps' folders, and a STATIC_ROOT that no collectstatic has filled would
# only make it warn, on every start, that the folder is missing.
STATIC_ROOT = BASE_DIR / "staticfiles" if PRODUCTION else None
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

# --- Security (production) ------------------------------------------------------------------
# Only a proxy in front may say the request came over HTTPS: without one, anybody could send
# X-Forwarded-Proto and be taken for a secure request.
BEHIND_PROXY = env.bool("BEHIND_PROXY", default=False)
if BEHIND_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if PRODUCTION:
    SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
    # The container healthcheck asks over plain HTTP from inside the container.
    SECURE_REDIRECT_EXEMPT = [r"^healthz/$"]
    SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
X_FRAME_OPTIONS = "DENY"
# Django hides what sensitive_variables/sensitive_post_parameters mark only without DEBUG; this
# filter hides it on the DEBUG page too (a crash during the token fetch shows no secret).
DEFAULT_EXCEPTION_REPORTER_FILTER = "picsweb.error_reports.SecretsHiddenReporterFilter"

# Plain http to Smart Assessor is accepted in development, and in production only for these
# hosts (a sandbox on the same private network, e.g. docker-compose's sandbox.internal).
SMARTASSESSOR_PLAIN_HTTP_HOSTS = env.list("SMARTASSESSOR_PLAIN_HTTP_HOSTS", default=[])

# Only the product's own scripts and styles; no inline script or style, no other origin.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        # Swagger UI and the admin draw some icons as data: URIs.
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
        "base-uri": ["'self'"],
        "object-src": ["'none'"],
    }
}

# --- Sign-in throttling (django-axes) -------------------------------------------------------
# Five wrong passwords for one username from one address are answered with the form; the
# sixth locks that pair out for 15 minutes (the admin signs in through the same page). Support
# can lift it at once with `manage.py axes_reset` (see the README).
AXES_FAILURE_LIMIT = 6
AXES_COOLOFF_TIME = timedelta(minutes=15)  # registration/locked_out.html says so
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "registration/locked_out.html"
# No banner at every start (management commands print their own first line); failures and
# lockouts are still logged as warnings.
AXES_VERBOSE = False
# The client's address: REMOTE_ADDR, or the proxy's X-Forwarded-For only when one is in front
# (otherwise a forged header would dodge the lockout).
AXES_IPWARE_META_PRECEDENCE_ORDER = (
    ("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR") if BEHIND_PROXY else ("REMOTE_ADDR",)
)
AXES_IPWARE_PROXY_COUNT = 1 if BEHIND_PROXY else None

# --- API ------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "rest_framework.authentication.SessionAuthentication",
        "rest_framework.authentication.TokenAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    # A token or session may call the API this often; more answers 429 with Retry-After.
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {"anon": "30/minute", "user": "600/minute"},
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "picsweb.api.exception_handler",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "picsweb API",
    "DESCRIPTION": "Learners, delivery plans and the Smart Assessor integration.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # The schema describes every endpoint: for signed-in people and token holders only.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # Learners and their qualifications both have a "status", with different choices.
    "ENUM_NAME_OVERRIDES": {
        "LearnerStatusEnum": "learners.models.LearnerStatus",
        "QualificationStatusEnum": "learners.models.QualificationStatus",
    },
}

# --- Celery ---------------------------------------------------------------------------------
# The filesystem broker's folders; a test or benchmark gives its processes a folder of their own.
BROKER_DIR = Path(env.str("CELERY_BROKER_DIR", default=str(VAR_DIR / "broker")))
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default="filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    # kombu's filesystem transport: a real broker in a folder, shared by the local processes,
    # with each message written whole before a worker can take it.
    CELERY_BROKER_TRANSPORT = "picsweb.broker:Transport"
    for folder in ("queue", "processed", "control"):
        (BROKER_DIR / folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Else kombu keeps its exchange table in ./control, wherever the process started.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # kombu's default of 1 s between looks at an empty folder also holds each worker
        # process up to 1 s after every task (about 2 enrolments a second with two).
        "polling_interval": 0.1,
    }
else:
    # Redis redelivers an unacknowledged task after this many seconds; every retry delay and
    # task time limit stays well below it.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_DEFAULT_QUEUE = env.str("CELERY_QUEUE", default="celery")
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = 600
CELERY_TASK_TIME_LIMIT = 900
CELERY_TASK_IGNORE_RESULT = True
CELERY_TIMEZONE = TIME_ZONE
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# --- Smart Assessor ---------------------------------------------------------------------------
# Seconds between automatic enrolment attempts after a transient failure; after the last one
# the enrolment fails and waits for a person to press Retry.
SMARTASSESSOR_RETRY_DELAYS = env.list(
    "SMARTASSESSOR_RETRY_DELAYS", cast=float, default=[5, 20, 60, 180, 600]
)
# Without Redis, every process on this machine takes its Smart Assessor tokens from one
# bucket kept in this file (under a file lock).
SMARTASSESSOR_RATE_LIMIT_FILE = Path(
    env.str("SMARTASSESSOR_RATE_LIMIT_FILE", default=str(VAR_DIR / "smartassessor-rate.lock"))
)

# --- Logging --------------------------------------------------------------------------------
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "filters": {"refusals_on_one_line": {"()": "picsweb.log_filters.RefusalsOnOneLine"}},
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["refusals_on_one_line"],
        }
    },
    "root": {"handlers": ["console"], "level": env.str("LOG_LEVEL", default="INFO")},
    "loggers": {
        # Django's own handlers would print each of its records a second time.
        "django": {"handlers": [], "propagate": True},
        "django.db.backends": {"level": "WARNING"},
    },
}
CELERY_BEAT_SCHEDULE = {
    # Every 10 s: with the enrolment lease of 20 s, a killed worker's enrolment is taken up
    # again within about 30 s (smartassessor/services/enrolment_requests.py, LEASE).
    "sweep-enrolments": {"task": "smartassessor.tasks.sweep_enrolments", "schedule": 10.0},
    "sweep-pushes": {"task": "smartassessor.tasks.sweep_pushes", "schedule": 10.0},
    # The daily and delta synchronisations are not here: they are periodic tasks in the
    # database (made by migrations) so that admins can see and change their schedules.
    "sweep-sync-runs": {"task": "smartassessor.tasks.sweep_sync_runs", "schedule": 30.0},
    "sweep-link-refreshes": {
        "task": "smartassessor.tasks.sweep_link_refreshes",
        "schedule": 60.0,
    },
    # Each learner's current employer, as placements start and end (learners.employers): at
    # a minute past every hour, so a missed run is made good within the hour.
    "refresh-current-employers": {
        "task": "learners.tasks.refresh_current_employers",
        "schedule": crontab(minute=1),
    },
    # An ILR import whose worker stopped ends failed, saying what to do (imports.services).
    "sweep-imports": {"task": "imports.tasks.sweep_imports", "schedule": 60.0},
    # With the build's lease of 3 minutes, a killed worker's report ends failed within 4.
    "sweep-reconciliations": {
        "task": "smartassessor.tasks.sweep_reconciliations",
        "schedule": 60.0,
    },
}
# The largest ILR file the import reads (F32); a bigger one is refused before it is parsed.
ILR_MAX_BYTES = env.int("ILR_MAX_BYTES", default=200 * 1024 * 1024)
# Where an uploaded ILR file waits between its preview and its commit; never served.
ILR_UPLOAD_DIR = Path(env.str("ILR_UPLOAD_DIR", default=str(VAR_DIR / "ilr-uploads")))
