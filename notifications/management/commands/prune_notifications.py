"""Retention: delete read notifications past NOTIFICATION_RETENTION_DAYS, and history past
NOTIFICATION_HISTORY_CAP per user. Run it daily (cron, or a django-q2 schedule)."""

from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand

from notifications import services


class Command(BaseCommand):
    help = "Delete old read notifications and history beyond the per-user cap."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--days",
            type=int,
            default=None,
            help="Keep read notifications this many days (default NOTIFICATION_RETENTION_DAYS).",
        )
        parser.add_argument(
            "--cap",
            type=int,
            default=None,
            help="Keep at most this many per user (default NOTIFICATION_HISTORY_CAP; 0: no cap).",
        )

    def handle(self, *args, days: int | None, cap: int | None, **options) -> None:
        days = settings.NOTIFICATION_RETENTION_DAYS if days is None else days
        cap = settings.NOTIFICATION_HISTORY_CAP if cap is None else cap
        result = services.notifications_prune(retention_days=days, cap=cap)
        self.stdout.write(
            f"Deleted {result['expired']} read notification(s) older than {days} days and "
            f"{result['over_cap']} beyond the cap of {cap} per user."
        )
