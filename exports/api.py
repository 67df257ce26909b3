"""JSON endpoints for export jobs (mounted at /api/exports). Thin: parse, authorize, call a service.

Another user's job is a 404 like a job that does not exist.
"""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest
from ninja import Field, Query, Router, Schema, Status

from config.errors import ApiError
from config.ranged import ranged_file_response
from exports import services
from exports.frames import job_frame
from exports.models import ExportJob

router = Router(tags=["exports"])


class ExportIn(Schema):
    kind: str = Field(..., description="annotate | framing | overlay")
    project_id: int | None = Field(None, description="framing and overlay")
    game_id: int | None = Field(None, description="annotate")
    options: dict = Field(
        default_factory=dict,
        description="annotate: {clip_ids: [..]}; framing: {scale: 1 | 0.5 | 0.25}",
    )


class ItemsOut(Schema):
    done: int
    total: int


class FileOut(Schema):
    name: str
    size: int | None
    url: str


class JobOut(Schema):
    id: int
    kind: str
    status: str
    stage: str
    progress: float
    items: ItemsOut
    message: str
    eta: int | None
    error: str
    project_id: int | None
    game_id: int | None
    backend: str
    attempts: int
    max_attempts: int
    options: dict
    retry_of_id: int | None
    output: FileOut | None
    output_duration: float | None
    files: list[FileOut]
    created_at: datetime
    started_at: datetime | None
    completed_at: datetime | None
    updated_at: datetime | None


class JobPage(Schema):
    items: list[JobOut]
    next_cursor: int | None


class ListQuery(Schema):
    state: str = Field("all", description="active | recent | all")
    cursor: int | None = Field(None, description="next_cursor of the previous page")
    limit: int = Field(20, ge=1, le=100)


def job_out(job: ExportJob) -> dict:
    frame = job_frame(job)
    frame.pop("type", None)
    base = f"/api/exports/{job.pk}"
    output = None
    if job.status == ExportJob.Status.COMPLETE and job.output_file:
        output = {
            "name": job.output_file.name.rsplit("/", 1)[-1],
            "size": job.output_size,
            "url": f"{base}/download",
        }
    files = [
        {"name": f["name"], "size": f.get("size"), "url": f"{base}/files/{n}"}
        for n, f in enumerate(job.extra_files or [], start=1)
    ]
    return {
        **frame,
        "progress": round(job.progress, 1),
        "backend": job.backend,
        "attempts": job.attempts,
        "max_attempts": job.max_attempts,
        "options": job.options or {},
        "retry_of_id": job.retry_of_id,
        "output": output,
        "output_duration": job.output_duration,
        "files": files if job.status == ExportJob.Status.COMPLETE else [],
        "created_at": job.created_at,
        "started_at": job.started_at,
        "completed_at": job.completed_at,
        "updated_at": job.updated_at,
    }


@router.post("", response={202: JobOut}, url_name="export_start")
def start_export(request: HttpRequest, payload: ExportIn):
    """Start an export (202 with the job); the same ``Idempotency-Key`` returns the same job."""
    job = services.export_start(
        user=request.user,
        kind=payload.kind,
        project_id=payload.project_id,
        game_id=payload.game_id,
        options=payload.options,
        idempotency_key=request.headers.get("Idempotency-Key"),
    )
    return Status(202, job_out(job))


@router.get("", response=JobPage, url_name="export_list")
def list_exports(request: HttpRequest, query: Query[ListQuery]):
    """The user's jobs, newest first; ``state``: active, recent (finished in 7 days) or all."""
    jobs, next_cursor = services.exports_list(
        user=request.user, state=query.state, cursor=query.cursor, limit=query.limit
    )
    return {"items": [job_out(j) for j in jobs], "next_cursor": next_cursor}


@router.get("/{job_id}", response=JobOut, url_name="export_detail")
def get_export(request: HttpRequest, job_id: int):
    return job_out(services.export_get(user=request.user, job_id=job_id))


@router.post("/{job_id}/cancel", response={202: JobOut}, url_name="export_cancel")
def cancel_export(request: HttpRequest, job_id: int):
    """Cancel: a pending job at once, a running one within about a second (202 either way)."""
    job = services.export_get(user=request.user, job_id=job_id)
    return Status(202, job_out(services.export_cancel(job=job, by=request.user)))


@router.post("/{job_id}/retry", response={202: JobOut}, url_name="export_retry")
def retry_export(request: HttpRequest, job_id: int):
    """A new job for the same input as a failed or cancelled one."""
    job = services.export_get(user=request.user, job_id=job_id)
    return Status(202, job_out(services.export_retry(job=job, user=request.user)))


def _not_ready() -> ApiError:
    return ApiError(409, "not_ready", "This export has no file to download (yet).")


@router.get("/{job_id}/download", url_name="export_download", response={200: None})
def download_export(request: HttpRequest, job_id: int):
    """The output file; supports Range requests (video players seek with them)."""
    job = services.export_get(user=request.user, job_id=job_id)
    if job.status != ExportJob.Status.COMPLETE or not job.output_file:
        raise _not_ready()
    if not job.output_file.storage.exists(job.output_file.name):
        raise ApiError(410, "gone", "The file of this export was deleted.")
    filename = f"reelforge-{job.kind}-{job.pk}.mp4"
    return ranged_file_response(request, job.output_file, filename=filename, as_attachment=True)


@router.get("/{job_id}/files/{number}", url_name="export_file", response={200: None})
def download_export_file(request: HttpRequest, job_id: int, number: int):
    """One of the job's extra files (annotate: clip ``number``, from 1), with Range support."""
    job = services.export_get(user=request.user, job_id=job_id)
    files = job.extra_files or []
    if job.status != ExportJob.Status.COMPLETE:
        raise _not_ready()
    if not 1 <= number <= len(files):
        raise ApiError(404, "not_found", "Not found.")
    entry = files[number - 1]
    field = job.output_file.field.attr_class(job, job.output_file.field, entry["file"])
    if not field.storage.exists(field.name):
        raise ApiError(410, "gone", "This file was deleted.")
    return ranged_file_response(request, field, filename=entry["name"], as_attachment=True)
