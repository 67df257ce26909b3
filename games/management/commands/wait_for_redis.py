"""Wait until the channel layer's Redis answers (used by the Procfile before starting)."""

from __future__ import annotations

import time

import redis
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Wait until Redis (REDIS_URL or the embedded one) answers."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--timeout", type=float, default=30)

    def handle(self, *args, timeout: float, **options) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1).ping()
                return
            except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
                if time.monotonic() > deadline:
                    raise CommandError(
                        f"Redis at {settings.REDIS_URL} did not answer: {exc}"
                    ) from exc
                time.sleep(0.2)
