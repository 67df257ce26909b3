"""What a user is told when an export ends: one keyed notification per outcome.

The event keys (``export:<id>:<outcome>``) make each notification exactly-once:
a finalize or failure path that runs twice finds the row already there.
"""

from __future__ import annotations

from django.urls import reverse

from exports.models import ExportJob
from notifications.services import notify

KIND_LABELS = {"annotate": "Annotated video", "framing": "Working video", "overlay": "Final video"}
LISTED_FILES = 5


def download_url(job: ExportJob) -> str:
    return reverse("api:export_download", kwargs={"job_id": job.pk})


def open_url(job: ExportJob) -> str:
    """The page where the job's result belongs: its project, its game, or the exports page."""
    if job.project_id:
        return reverse("games:project_detail", kwargs={"project_id": job.project_id})
    if job.game_id:
        return reverse("games:detail", kwargs={"game_id": job.game_id})
    return reverse("exports:list")


def subject(job: ExportJob) -> str:
    snap = job.input_snapshot or {}
    name = (snap.get("project") or {}).get("name") or (snap.get("game") or {}).get("title") or ""
    label = KIND_LABELS.get(job.kind, "Export")
    return f"{label} of “{name}”" if name else label


def _data(job: ExportJob) -> dict:
    return {
        "job_id": job.pk,
        "kind": job.kind,
        "project_id": job.project_id,
        "game_id": job.game_id,
    }


def notify_started(job: ExportJob) -> None:
    """For the history only: the export indicator already shows a running job."""
    notify(
        user=job.owner_id,
        kind="export.started",
        level="info",
        title=f"{subject(job)} started",
        data=_data(job),
        actions=[{"label": "Open", "url": open_url(job)}],
        event_key=f"export:{job.pk}:started",
        already_read=True,
    )


def notify_completed(job: ExportJob) -> None:
    notify(
        user=job.owner_id,
        kind="export.completed",
        level="success",
        title=f"{subject(job)} is ready",
        message=f"{job.output_duration:.1f} s, {job.output_size / 1e6:.1f} MB.",
        data=_data(job),
        actions=[
            {"label": "Download", "url": download_url(job)},
            {"label": "Open", "url": open_url(job)},
        ],
        event_key=f"export:{job.pk}:completed",
    )


def notify_extracted(job: ExportJob) -> None:
    """Annotate's per-clip files: one notification listing them."""
    files = job.extra_files
    names = ", ".join(f["name"] for f in files[:LISTED_FILES])
    notify(
        user=job.owner_id,
        kind="extraction.completed",
        level="success",
        title=f"{len(files)} clip{'s' if len(files) != 1 else ''} extracted",
        message=names + ("…" if len(files) > LISTED_FILES else ""),
        data={**_data(job), "files": len(files)},
        actions=[{"label": "Open", "url": open_url(job)}],
        event_key=f"export:{job.pk}:extraction",
    )


def notify_failed(job: ExportJob) -> None:
    retry = reverse("api:export_retry", kwargs={"job_id": job.pk})
    notify(
        user=job.owner_id,
        kind="export.failed",
        level="error",
        title=f"{subject(job)} failed",
        message=job.error,
        data=_data(job),
        actions=[
            {"label": "Retry", "url": retry, "method": "POST"},
            {"label": "Open", "url": open_url(job)},
        ],
        event_key=f"export:{job.pk}:failed",
    )


def notify_cancelled(job: ExportJob) -> None:
    notify(
        user=job.owner_id,
        kind="export.cancelled",
        level="info",
        title=f"{subject(job)} was cancelled",
        data=_data(job),
        actions=[{"label": "Open", "url": open_url(job)}],
        event_key=f"export:{job.pk}:cancelled",
    )
