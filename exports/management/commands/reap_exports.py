"""``manage.py reap_exports``: run the reaper once (it also runs on worker start, on a schedule)."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from config.schedules import ensure_schedules
from exports.tasks import reap_exports


class Command(BaseCommand):
    help = "Re-queue or fail export jobs whose worker was lost; remove leftover work folders."

    def handle(self, *args, **options) -> None:
        ensure_schedules()
        counts = reap_exports()
        self.stdout.write(", ".join(f"{key}: {value}" for key, value in counts.items()))
