"""The interface every export backend implements (see ``exports.backends``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from exports.models import ExportJob
    from exports.progress import JobProgress
    from exports.renderers import RenderOutput


class ExportBackend(Protocol):
    name: str

    def start(self, job: ExportJob) -> None: ...

    def execute(self, job: ExportJob, *, workdir: Path, progress: JobProgress) -> RenderOutput: ...

    def cancel(self, job: ExportJob) -> None: ...

    def check(self, job: ExportJob) -> bool | None: ...


def enqueue_render(job_id: int) -> str:
    """Queue one render task for ``job_id`` (the claim makes a duplicate harmless)."""
    from django_q.tasks import async_task

    return async_task("exports.tasks.render_export", job_id, task_name=f"export-{job_id}")
