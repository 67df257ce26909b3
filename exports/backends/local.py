"""The local backend: the qcluster worker fetches the sources and runs FFmpeg itself."""

from __future__ import annotations

from pathlib import Path

from exports.backends.base import enqueue_render
from exports.models import ExportJob
from exports.progress import JobProgress
from exports.renderers import RenderOutput, render
from exports.sources import fetch_sources


class LocalBackend:
    name = "local"

    def start(self, job: ExportJob) -> None:
        enqueue_render(job.pk)

    def execute(self, job: ExportJob, *, workdir: Path, progress: JobProgress) -> RenderOutput:
        sources = fetch_sources(job.input_snapshot, workdir=workdir, progress=progress)
        return render(job.input_snapshot, sources=sources, workdir=workdir, progress=progress)

    def cancel(self, job: ExportJob) -> None:
        # The worker reads cancel_requested_at with its next heartbeat (about a second)
        # and its renderer ends FFmpeg's process group; nothing to do from here.
        return None

    def check(self, job: ExportJob) -> bool | None:
        return None  # only the heartbeat can tell
