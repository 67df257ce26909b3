"""Project-wide app config: the system checks that must pass before Reelforge runs."""

from __future__ import annotations

import subprocess

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class ReelforgeConfig(AppConfig):
    name = "config"
    label = "reelforge"
    verbose_name = "Reelforge"

    def ready(self) -> None:
        checks.register(check_ffmpeg)
        checks.register(check_channel_layer)
        checks.register(check_queue_retry)


def check_ffmpeg(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    from videokit.ffmpeg import ffmpeg_binary

    try:
        binary = ffmpeg_binary()
        subprocess.run([binary, "-version"], capture_output=True, check=True, timeout=20)
    except Exception as exc:  # noqa: BLE001 - any failure means renders cannot run
        return [
            checks.Error(
                f"FFmpeg cannot be run: {exc}",
                hint="Install imageio-ffmpeg (make install) or set FFMPEG_BINARY to an ffmpeg.",
                id="reelforge.E001",
            )
        ]
    return []


def check_channel_layer(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    import redis

    try:
        redis.Redis.from_url(settings.REDIS_URL, socket_timeout=2).ping()
    except Exception as exc:  # noqa: BLE001
        hint = (
            "Start it with `make run` or `python -m config.embedded_redis`."
            if settings.REDIS_EMBEDDED
            else "Check REDIS_URL and that the server is reachable."
        )
        return [
            checks.Warning(
                f"The channel layer's Redis at {settings.REDIS_URL} does not answer: {exc}",
                hint=hint,
                id="reelforge.W002",
            )
        ]
    return []


def check_queue_retry(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    conf = settings.Q_CLUSTER
    if conf.get("retry", 0) <= conf.get("timeout", 0):
        return [
            checks.Error(
                "Q_CLUSTER['retry'] must be larger than Q_CLUSTER['timeout'], "
                "or a long render is handed to a second worker while the first still runs.",
                id="reelforge.E003",
            )
        ]
    return []
