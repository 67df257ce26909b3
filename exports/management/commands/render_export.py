"""``manage.py render_export <id>``: run one pending job in the foreground with a progress bar."""

from __future__ import annotations

import sys
import time

from django.core.management.base import BaseCommand, CommandError

from exports.models import ExportJob
from exports.progress import JobProgress
from exports.runner import run_job

BAR_WIDTH = 30


class Command(BaseCommand):
    help = (
        "Render one export job here and now (it must be pending; a queued worker that picks "
        "it up later finds it taken). --requeue first puts a failed or cancelled job back."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("job_id", type=int)
        parser.add_argument(
            "--requeue",
            action="store_true",
            help="Put a failed or cancelled job back to pending first (same snapshot).",
        )

    def handle(self, *args, job_id: int, requeue: bool, **options) -> None:
        job = ExportJob.objects.filter(pk=job_id).first()
        if job is None:
            raise CommandError(f"No export job {job_id}.")
        if requeue and job.status in (ExportJob.Status.ERROR, ExportJob.Status.CANCELLED):
            ExportJob.objects.filter(pk=job.pk, status=job.status).update(
                status=ExportJob.Status.PENDING,
                cancel_requested_at=None,
                completed_at=None,
                error="",
                attempts=0,
            )
            job.refresh_from_db()
        if job.status != ExportJob.Status.PENDING:
            raise CommandError(
                f"Export {job_id} is {job.status}; only a pending job can be rendered "
                "(use --requeue for a failed or cancelled one)."
            )
        self._last_draw = 0.0
        started = time.monotonic()
        status = run_job(job_id=job_id, progress_listener=self.draw)
        job.refresh_from_db()
        self.draw_line(job.progress, job.stage, job.message, None, final=True)
        took = time.monotonic() - started
        if status == ExportJob.Status.COMPLETE:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Export {job_id} complete in {took:.1f} s: {job.output_file.name} "
                    f"({job.output_size / 1e6:.1f} MB, {job.output_duration:.2f} s)"
                )
            )
        elif status == "skipped":
            raise CommandError(f"Export {job_id} was taken by another worker or cancelled.")
        else:
            raise CommandError(f"Export {job_id} ended {status}: {job.error or job.message}")

    def draw(self, progress: JobProgress) -> None:
        now = time.monotonic()
        if now - self._last_draw < 0.1:
            return
        self._last_draw = now
        self.draw_line(progress.percent, progress.stage_name, progress.message, progress.eta)

    def draw_line(
        self, percent: float, stage: str, message: str, eta: int | None, final: bool = False
    ) -> None:
        filled = int(BAR_WIDTH * percent / 100)
        bar = "#" * filled + "-" * (BAR_WIDTH - filled)
        eta_text = f" ETA {eta}s" if eta else ""
        line = f"[{bar}] {percent:5.1f}% {message or stage}{eta_text}"
        end = "\n" if final or not sys.stdout.isatty() else ""
        self.stdout.write(f"\r{line:<90}", ending=end)
        self.stdout.flush()
