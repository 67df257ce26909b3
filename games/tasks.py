"""Queue entry points of the games app (django-q2 runs these by dotted path)."""

from __future__ import annotations

from datetime import timedelta


def cleanup_uploads() -> dict[str, int]:
    """Abort uploads left unfinished longer than UPLOAD_ABANDON_HOURS (scheduled hourly)."""
    from django.conf import settings

    from games.uploads import uploads_cleanup

    report = uploads_cleanup(older_than=timedelta(hours=settings.UPLOAD_ABANDON_HOURS))
    return {
        "videos_abandoned": report.videos_abandoned,
        "multipart_aborted": report.multipart_aborted,
        "temp_files_removed": report.temp_files_removed,
    }
