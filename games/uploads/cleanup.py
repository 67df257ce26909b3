"""Aborting uploads that were never finished (``manage.py cleanup_uploads``)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone

from config.errors import ApiError
from games import storage
from games.models import GameVideo
from games.uploads.direct import discard_upload, storage_errors
from games.uploads.receive import incoming_dir, notify_result

logger = logging.getLogger(__name__)


@dataclass
class CleanupReport:
    videos_abandoned: int = 0
    multipart_aborted: int = 0
    temp_files_removed: int = 0
    errors: int = 0


def uploads_cleanup(*, older_than: timedelta, now: datetime | None = None) -> CleanupReport:
    """Abort uploads left unfinished for longer than ``older_than``.

    Marks their videos invalid (bytes and parts removed, owner notified), aborts
    multipart uploads in the bucket that no video knows about, and removes stale
    temporary files of uploads through the app.
    """
    now = now or timezone.now()
    cutoff = now - older_than
    report = CleanupReport()
    # A video being checked right now is left alone unless it has been stuck for twice as long.
    stale = GameVideo.objects.select_related("game", "game__owner").filter(
        status=GameVideo.Status.UPLOADING, created_at__lt=cutoff
    ) | GameVideo.objects.select_related("game", "game__owner").filter(
        status=GameVideo.Status.PROCESSING, created_at__lt=now - 2 * older_than
    )
    hours = round(older_than.total_seconds() / 3600, 1)
    for video in stale:
        claimed = GameVideo.objects.filter(pk=video.pk, status=video.status).update(
            status=GameVideo.Status.INVALID
        )
        if not claimed:
            continue
        try:
            with storage_errors():
                discard_upload(video)
        except ApiError:
            # The bucket is unreachable: the video is still given up; its parts are no longer
            # "live", so the orphan sweep of a later run aborts them.
            logger.warning("Could not remove the parts of abandoned upload %s", video.pk)
            report.errors += 1
        video.status = GameVideo.Status.INVALID
        video.error = f"The upload was not finished within {hours:g} hours and was cancelled."
        video.save()
        video.game.refresh_status()
        notify_result(video)
        report.videos_abandoned += 1
    if storage.is_s3():
        with storage_errors():
            report.multipart_aborted = _abort_orphan_multipart(cutoff)
    for path in incoming_dir().iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff.timestamp():
            path.unlink(missing_ok=True)
            report.temp_files_removed += 1
    return report


def _abort_orphan_multipart(cutoff: datetime) -> int:
    client, bucket = storage.s3_client(), storage.bucket_name()
    live = set(
        GameVideo.objects.filter(status__in=GameVideo.ACTIVE_STATUSES)
        .exclude(upload_id="")
        .values_list("upload_id", flat=True)
    )
    location = storage.default_storage().location
    prefix = f"{location.rstrip('/')}/" if location else ""
    aborted = 0
    for page in client.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, Prefix=prefix
    ):
        for upload in page.get("Uploads", []):
            if upload["UploadId"] in live or upload["Initiated"] >= cutoff:
                continue
            client.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
            aborted += 1
    return aborted
