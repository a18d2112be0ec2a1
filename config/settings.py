"""Django settings, read from the environment (12-factor, as in cookiecutter-django).

DATABASE_URL, REDIS_URL, MEDIA_ROOT, SECRET_KEY, DEBUG and ALLOWED_HOSTS are the knobs an operator sets; the
defaults suit a developer machine with PostgreSQL and Redis on their standard loopback ports.
"""

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def _env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


DEBUG = _env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG and os.environ.get("VIDPREF_REQUIRE_SECRET_KEY") == "1":
        raise RuntimeError("SECRET_KEY must be set in production")
    # A fixed development key: fine for a laptop, refused above where the operator demands a real one.
    SECRET_KEY = "vidpref-development-key-not-for-production"
ALLOWED_HOSTS = [h.strip() for h in os.environ.get("ALLOWED_HOSTS", "127.0.0.1,localhost").split(",") if h]

INSTALLED_APPS = [
    "config.admin.VidprefAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "channels",
    "annotation",
    "rewards",
    "alignment",
    "frontend",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Static files (admin CSS, the annotator UI's JS) from the ASGI server itself: no separate web server needed.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

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

DATABASE_URL = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/vidpref")
DATABASES = {"default": dj_database_url.parse(DATABASE_URL)}
# A connection pool rather than persistent connections: under ASGI every request may run on another thread.
DATABASES["default"].setdefault("OPTIONS", {})
if _env_bool("DB_POOL", True):
    DATABASES["default"]["OPTIONS"]["pool"] = {
        "min_size": int(os.environ.get("DB_POOL_MIN", "2")),
        "max_size": int(os.environ.get("DB_POOL_MAX", "16")),
        "timeout": 10,
    }
DATABASES["default"]["TEST"] = {"NAME": os.environ.get("TEST_DATABASE_NAME", "test_vidpref")}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(os.environ.get("STATIC_ROOT", BASE_DIR / "var" / "static"))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", BASE_DIR / "var" / "media")).resolve()
# Exports and uploaded manifests live outside MEDIA_ROOT: they are served only through the jobs API.
JOBS_ROOT = Path(os.environ.get("JOBS_ROOT", BASE_DIR / "var" / "jobs")).resolve()
# Training runs write their dataset, checkpoints and evaluations here (a shared volume for GPU workers).
RUNS_ROOT = Path(os.environ.get("RUNS_ROOT", BASE_DIR / "var" / "runs")).resolve()

LOGIN_URL = "/login/"
LOGIN_REDIRECT_URL = "/"

# Annotation payloads are small; anything bigger is refused before it is parsed (see annotation.api.parsers).
API_MAX_BODY_BYTES = int(os.environ.get("API_MAX_BODY_BYTES", str(64 * 1024)))

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        # Token first: its WWW-Authenticate header turns anonymous requests into 401 rather than 403.
        "annotation.api.authentication.FastTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["annotation.api.parsers.BoundedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "annotation.api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "vidpref API",
    "DESCRIPTION": "Pairwise video preference annotation, reward-model training and alignment.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    # Runs (both kinds share one state machine) and jobs each have a "state": name them apart in the schema.
    "ENUM_NAME_OVERRIDES": {"RunStateEnum": "annotation.run_records.RunRecord.State"},
}

CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {"hosts": [REDIS_URL]},
    }
}

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_ROUTES = {
    "rewards.tasks.start_scheduled_runs": {"queue": "default"},
    "rewards.tasks.*": {"queue": "gpu"},
    "alignment.tasks.start_scheduled_alignments": {"queue": "default"},
    "alignment.tasks.*": {"queue": "gpu"},
}
CELERY_TASK_ACKS_LATE = True
# A task whose worker died is handed out again after this many seconds (Redis has no other way to notice).
CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": int(os.environ.get("CELERY_VISIBILITY_TIMEOUT", "900"))}
# A running run whose worker has been silent this long is taken over; a live one is never run twice.
RUN_STALE_SECONDS = int(os.environ.get("RUN_STALE_SECONDS", "600"))
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Training runs: past the soft limit the run stops and is recorded as failed with the reason; the hard limit
# (a minute later) kills a run that ignores it. Transient database errors are retried with backoff.
TRAINING_SOFT_TIME_LIMIT = int(os.environ.get("TRAINING_SOFT_TIME_LIMIT", str(6 * 3600)))
_TRAINING_LIMITS = {"soft_time_limit": TRAINING_SOFT_TIME_LIMIT, "time_limit": TRAINING_SOFT_TIME_LIMIT + 60}
CELERY_TASK_ANNOTATIONS = {
    "rewards.tasks.train_reward_model": _TRAINING_LIMITS,
    "alignment.tasks.align_generator": _TRAINING_LIMITS,
}
CELERY_BEAT_SCHEDULE = {
    "reclaim-expired-leases": {
        "task": "annotation.tasks.reclaim_expired_leases",
        "schedule": timedelta(seconds=30),
    },
    "start-scheduled-training": {
        "task": "rewards.tasks.start_scheduled_runs",
        "schedule": timedelta(seconds=int(os.environ.get("SCHEDULE_CHECK_SECONDS", "30"))),
    },
    "start-scheduled-alignment": {
        "task": "alignment.tasks.start_scheduled_alignments",
        "schedule": timedelta(seconds=int(os.environ.get("SCHEDULE_CHECK_SECONDS", "30"))),
    },
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}
