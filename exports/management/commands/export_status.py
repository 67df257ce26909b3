"""``manage.py export_status``: a table of export jobs (newest first)."""

from __future__ import annotations

from django.core.management.base import BaseCommand
from django.utils import timezone

from exports.models import ExportJob


class Command(BaseCommand):
    help = "Show export jobs as a table: id, kind, status, progress, stage, worker, age, error."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--active", action="store_true", help="Only pending or processing.")
        parser.add_argument("--user", help="Only this username's jobs.")
        parser.add_argument("--limit", type=int, default=30)

    def handle(self, *args, active: bool, user: str | None, limit: int, **options) -> None:
        jobs = ExportJob.objects.select_related("owner").order_by("-id")
        if active:
            jobs = jobs.filter(status__in=ExportJob.ACTIVE_STATUSES)
        if user:
            jobs = jobs.filter(owner__username=user)
        now = timezone.now()
        rows = [
            ("ID", "KIND", "STATUS", "%", "STAGE", "TRY", "OWNER", "WORKER", "HEARTBEAT", "ERROR")
        ]
        for job in jobs[:limit]:
            beat = (
                f"{(now - job.heartbeat_at).total_seconds():.0f}s ago" if job.heartbeat_at else "-"
            )
            rows.append(
                (
                    str(job.pk),
                    job.kind,
                    job.status,
                    f"{job.progress:.0f}",
                    job.stage or "-",
                    f"{job.attempts}/{job.max_attempts}",
                    job.owner.get_username(),
                    job.worker_id or "-",
                    beat if job.status == ExportJob.Status.PROCESSING else "-",
                    (job.error or "")[:60],
                )
            )
        if len(rows) == 1:
            self.stdout.write("No export jobs.")
            return
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            cells = (cell.ljust(w) for cell, w in zip(row, widths, strict=True))
            self.stdout.write("  ".join(cells).rstrip())
