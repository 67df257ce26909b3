"""The one JSON shape of a job as the hub and the HTTP API show it."""

from __future__ import annotations

from exports.models import ExportJob


def job_frame(job: ExportJob) -> dict:
    """A ``job`` frame (DESIGN.md hub protocol): id, kind, status, stage, progress, items, ..."""
    return {
        "type": "job",
        "id": job.pk,
        "kind": job.kind,
        "status": job.status,
        "stage": job.stage,
        "progress": round(job.progress, 1),
        "items": {"done": job.items_done, "total": job.items_total},
        "message": job.message,
        "eta": job.eta_seconds,
        "error": job.error,
        "project_id": job.project_id,
        "game_id": job.game_id,
        "updated_at": job.updated_at.isoformat() if job.updated_at else None,
    }
