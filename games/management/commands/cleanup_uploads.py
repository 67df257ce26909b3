"""Abort uploads left unfinished (workers also run this hourly on django-q2's schedule)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from config.errors import ApiError
from games.uploads import uploads_cleanup


class Command(BaseCommand):
    help = (
        "Abort direct uploads not confirmed in time (their parts and bytes are removed and "
        "the owner notified), abort multipart uploads no video knows, and remove stale "
        "temporary files of uploads through the app."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--older-than-hours",
            type=float,
            default=None,
            help="Age after which an unfinished upload is abandoned "
            "(default: UPLOAD_ABANDON_HOURS).",
        )

    def handle(self, *args, older_than_hours: float | None, **options) -> None:
        hours = settings.UPLOAD_ABANDON_HOURS if older_than_hours is None else older_than_hours
        if hours < 0:
            raise CommandError("--older-than-hours must not be negative.")
        try:
            report = uploads_cleanup(older_than=timedelta(hours=hours))
        except ApiError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(
            f"Abandoned uploads: {report.videos_abandoned}; "
            f"orphan multipart uploads aborted: {report.multipart_aborted}; "
            f"temporary files removed: {report.temp_files_removed}."
        )
