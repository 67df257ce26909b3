"""The worker side of a job: claim, render in a private folder, verify, store, finalize.

Every exit path ends in exactly one of: complete, error, cancelled, or (when the
reaper gave the job to another worker meanwhile) leaving the row alone. The
job's work folder is removed on every path, and FFmpeg, which runs in its own
process group, is ended by the renderer when the job is cancelled or fails.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import socket
import traceback
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

from django.conf import settings

from exports import services
from exports.backends import get_backend
from exports.models import ExportJob
from exports.progress import JobProgress
from exports.renderers import OutputInvalid, RenderError, RenderOutput, verify_output
from exports.sources import SourceMissing
from exports.storing import StorageFull, output_name, store_file
from videokit.ffmpeg import FFmpegError, RenderCancelled
from videokit.probe import ProbeError

logger = logging.getLogger(__name__)

VERIFY_SPAN = (95.0, 96.0)
STORE_SPAN = (96.0, 100.0)
PID_FILE = "ffmpeg.pgid"
OUTPUT_NAMES = {"annotate": "annotated", "framing": "working", "overlay": "final"}


def worker_id() -> str:
    """hostname:pid of this process (the claim records it on the job)."""
    return f"{socket.gethostname()}:{os.getpid()}"


# ---------------------------------------------------------------- work folders


def work_root() -> Path:
    root = Path(settings.EXPORT_WORK_DIR)
    root.mkdir(parents=True, exist_ok=True)
    return root


def _end_orphan(folder: Path) -> None:
    """Kill the FFmpeg group a killed worker left running in ``folder`` (if it is still there)."""
    pid_file = folder / PID_FILE
    with contextlib.suppress(OSError, ValueError):
        pgid = int(pid_file.read_text().strip())
        cmdline = Path(f"/proc/{pgid}/cmdline").read_bytes()
        # Only a process that works in this folder: a recycled pid is someone else's.
        if str(folder).encode() in cmdline:
            os.killpg(pgid, signal.SIGKILL)


def sweep_work_folders(*, job_id: int | None = None, keep: Path | None = None) -> int:
    """Remove this host's work folders of ``job_id`` (or of every job no longer running here).

    A worker killed with SIGKILL cannot clean up; the next attempt of the job, and the
    reaper on worker start, remove what it left (and end its FFmpeg if still running).
    """
    removed = 0
    root = work_root()
    pattern = f"job{job_id}-*" if job_id is not None else "job*-*"
    host = socket.gethostname()
    for folder in root.glob(pattern):
        if folder == keep or not folder.is_dir():
            continue
        if job_id is None:
            ident = folder.name.split("-", 1)[0][3:]
            owner = (folder / "worker").read_text().strip() if (folder / "worker").exists() else ""
            still_ours = ExportJob.objects.filter(
                pk=int(ident) if ident.isdigit() else 0,
                status=ExportJob.Status.PROCESSING,
                worker_id=owner,
            ).exists()
            # A live worker's folder stays; so does one of another host (we cannot ask it).
            if still_ours and (owner.split(":")[0] != host or _alive(owner)):
                continue
        _end_orphan(folder)
        shutil.rmtree(folder, ignore_errors=True)
        removed += 1
    return removed


def _alive(worker: str) -> bool:
    with contextlib.suppress(ValueError, IndexError):
        pid = int(worker.rsplit(":", 1)[1])
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, 0)
            return True
    return False


@contextlib.contextmanager
def work_folder(job: ExportJob) -> Iterator[Path]:
    folder = work_root() / f"job{job.pk}-a{job.attempts}-{uuid.uuid4().hex[:8]}"
    folder.mkdir(parents=True)
    (folder / "worker").write_text(job.worker_id)
    sweep_work_folders(job_id=job.pk, keep=folder)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


# ---------------------------------------------------------------- the run


def _remember_pid(folder: Path) -> Callable[[JobProgress], None]:
    """A progress listener that records FFmpeg's newest process group in ``folder``.

    The listener hears every progress frame; the file is written only when a new
    FFmpeg starts (writing it on every frame cost a tenth of a second per job).
    """
    written: int | None = None

    def listener(progress: JobProgress) -> None:
        nonlocal written
        newest = progress.pids[-1] if progress.pids else None
        if newest is not None and newest != written:
            written = newest
            with contextlib.suppress(OSError):
                (folder / PID_FILE).write_text(str(newest))

    return listener


def verify_and_store(job: ExportJob, output: RenderOutput, progress: JobProgress) -> dict:
    """Probe the render, then store it (and any extras); returns finalize's keyword args."""
    progress.stage(
        "verifying", message="Checking the video", start=VERIFY_SPAN[0], end=VERIFY_SPAN[1]
    )
    fps = float(_output_fps(job.input_snapshot))
    info = verify_output(
        output.path,
        expected_duration=output.expected_duration,
        clip_count=output.clip_count,
        fps=fps,
    )
    if progress.cancel_requested():
        raise RenderCancelled()
    files = [(f"{OUTPUT_NAMES.get(job.kind, 'export')}.mp4", output.path)]
    files += [(f"clips/{name}", path) for name, path in output.extras]
    total = sum(path.stat().st_size for _, path in files) or 1
    progress.stage("storing", message="Saving the video", start=STORE_SPAN[0], end=STORE_SPAN[1])
    done = 0
    stored: list[tuple[str, str, int]] = []
    for filename, path in files:
        name, size = store_file(
            path,
            output_name(job.owner_id, job.pk, filename),
            on_bytes=lambda n, base=done: progress.fraction((base + n) / total),
            tick=progress.cancel_requested,
        )
        done += size
        stored.append((filename, name, size))
    (_, main_name, main_size), extras = stored[0], stored[1:]
    return {
        "output_name": main_name,
        "output_size": main_size,
        "output_duration": info.duration,
        "extra_files": [
            {"name": Path(filename).name, "file": name, "size": size}
            for filename, name, size in extras
        ],
    }


def _output_fps(snapshot: dict) -> float:
    spec = snapshot.get("output") or snapshot.get("project") or {}
    return float(spec.get("fps") or 30)


def run_job(*, job_id: int, worker: str | None = None, progress_listener=None) -> str:
    """Claim and render one job; returns the status it ended in (or "skipped")."""
    job = services.export_claim(job_id=job_id, worker_id=worker or worker_id())
    if job is None:
        return "skipped"
    with work_folder(job) as folder:
        remember = _remember_pid(folder)

        def listener(progress: JobProgress) -> None:
            remember(progress)
            if progress_listener is not None:
                progress_listener(progress)

        progress = JobProgress(job, listener=listener)
        progress.stage("fetching", message="Starting", start=0.0, end=0.0)
        progress.write()
        status = run_claimed(job, folder, progress)
        # The claim and the final transition are one write each, besides the progress ones.
        logger.info("Export %s ended %s; job row writes: %d", job.pk, status, progress.writes + 2)
        return status


def run_claimed(job: ExportJob, folder: Path, progress: JobProgress) -> str:
    """Render a job this worker holds, then verify, store and finalize it (or fail/cancel it).

    Every way a render can end maps to exactly one final transition here; the Modal
    relay calls it too, so remote and local jobs finish the same way.
    """
    try:
        backend = get_backend(job.backend)
        output = backend.execute(job, workdir=folder, progress=progress)
        if progress.cancel_requested():
            raise RenderCancelled()
        stored = verify_and_store(job, output, progress)
        return services.export_finalize(job=job, **stored).status
    except RenderCancelled:
        if progress.lost:
            return "lost"
        return services.export_mark_cancelled(job=job).status
    except FFmpegError as exc:
        return _fail(job, progress, exc.user_message, exc.stderr_tail)
    except (RenderError, OutputInvalid) as exc:
        return _fail(job, progress, exc.user_message, traceback.format_exc(limit=5))
    except ProbeError as exc:
        return _fail(job, progress, str(exc), traceback.format_exc(limit=5))
    except (SourceMissing, StorageFull) as exc:
        return _fail(job, progress, str(exc), traceback.format_exc(limit=5))
    except OSError as exc:
        logger.exception("Export %s failed with an OS error", job.pk)
        return _fail(
            job, progress, f"The export failed: {exc.strerror or exc}.", traceback.format_exc()
        )
    except Exception:
        logger.exception("Export %s failed unexpectedly", job.pk)
        return _fail(job, progress, "The export failed unexpectedly.", traceback.format_exc())


def _fail(job: ExportJob, progress: JobProgress, message: str, detail: str) -> str:
    if progress.lost:
        return "lost"
    if progress.cancelled:
        return services.export_mark_cancelled(job=job).status
    return services.export_fail(job=job, error=message, detail=detail).status
