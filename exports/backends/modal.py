"""The ``modal`` backend: the render runs in a GPU container on Modal; a worker relays it.

The job goes through the same queue, claim, runner, verification, storage and
finalize as a local one; only ``execute`` differs:

1. **dispatch**: presigned GET URLs for the sources, presigned PUT URLs for the
   output (and annotate's per-clip files) under a staging name of this attempt,
   then ``Function.spawn``; the call id is saved on the job at once, so a cancel or
   a reaper always knows which call to ask about;
2. **relay**: the worker polls ``FunctionCall.get(timeout=0)`` and the progress the
   container writes into a ``modal.Dict``, and feeds it to its ``JobProgress``: the
   hub sees the same ``job`` frames as for a local render, and the job row keeps its
   heartbeat while the worker waits;
3. **collect**: the finished files are downloaded from staging into the work folder
   and handed back to the runner, which verifies and stores them and calls the
   engine's idempotent ``export_finalize``: one output, one notification.

Recovery (``check``, called by the reaper for a job whose heartbeat went stale):
a running or finished call is taken over by a new relay task; a failed call fails
the job with Modal's error; when Modal cannot be reached the job is kept and asked
about again on the next round, and fails only ``MODAL_UNKNOWN_GRACE_SECONDS`` after
its last sign of life. See docs/modal.md.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

import grpclib
import grpclib.exceptions
import modal
import modal.exception as modal_errors
from django.conf import settings
from django.utils import timezone

from exports.backends.base import enqueue_render
from exports.models import ExportJob
from exports.progress import JobProgress
from exports.remote_render import PROGRESS_DICT_NAME, RemoteRenderError
from exports.renderers import RenderError, RenderOutput
from exports.storing import output_name
from videokit.ffmpeg import FFmpegError, RenderCancelled

logger = logging.getLogger(__name__)

UNREACHABLE = "GPU render service unreachable"
# The container's own 0–100 % is shown as 0–92 %; collecting its files is 92–95 %, and
# the runner's verifying and storing keep 95–100 % as for a local render.
REMOTE_SHARE = 92.0
COLLECT_SPAN = (92.0, 95.0)
RELAY_TASK = "exports.backends.modal.relay_export"

# Errors that say nothing about the render itself, only that Modal could not be asked.
_UNKNOWN_ERRORS: tuple[type[BaseException], ...] = (
    modal_errors.ConnectionError,
    modal_errors.AuthError,
    modal_errors.ServiceError,
    modal_errors.InternalError,
    modal_errors.ResourceExhaustedError,
    modal_errors.ClientClosed,
    grpclib.GRPCError,
    grpclib.exceptions.StreamTerminatedError,
    grpclib.exceptions.ProtocolError,
    OSError,
)


class ModalUnavailable(RenderError):
    """Modal could not take the job (unreachable, not deployed, no credentials, no S3)."""


class ModalRenderFailed(FFmpegError):
    """The remote render failed: the runner shows ``user_message`` and keeps Modal's detail."""


# ---------------------------------------------------------------- talking to Modal


@dataclass
class CallState:
    """What Modal says about a call: running, done (with its result), failed, cancelled, unknown."""

    kind: str
    result: dict | None = None
    error: str = ""
    detail: str = ""


def poll_call(call_id: str) -> CallState:
    """Ask Modal about ``call_id`` without waiting."""
    try:
        result = modal.FunctionCall.from_id(call_id).get(timeout=0)
    except TimeoutError:
        # The builtin TimeoutError means "no output yet"; Modal's own timeouts below
        # (FunctionTimeoutError, OutputExpiredError) are not subclasses of it.
        return CallState("running")
    except RemoteRenderError as exc:
        return CallState("failed", error=exc.user_message, detail=exc.detail)
    except modal_errors.FunctionTimeoutError as exc:
        return CallState(
            "failed", error="The GPU render took longer than its time limit.", detail=str(exc)
        )
    except modal_errors.OutputExpiredError as exc:
        return CallState(
            "failed", error="The GPU render's result expired before it was collected.",
            detail=repr(exc),
        )  # fmt: skip
    except (modal_errors.NotFoundError, modal_errors.InvalidError) as exc:
        return CallState(
            "failed", error="The GPU render service does not know this render.", detail=repr(exc)
        )
    except modal_errors.InputCancellation as exc:
        return CallState("cancelled", error="The GPU render was stopped.", detail=repr(exc))
    except _UNKNOWN_ERRORS as exc:
        return CallState("unknown", detail=f"{type(exc).__name__}: {exc}")
    except Exception as exc:  # noqa: BLE001 - whatever else the function raised
        return CallState("failed", error="The GPU render failed.", detail=f"{exc!r}")
    if not isinstance(result, dict) or "expected_duration" not in result:
        return CallState(
            "failed", error="The GPU render returned no result.", detail=repr(result)[:2000]
        )
    return CallState("done", result=result)


def cancel_call(call_id: str) -> bool:
    """``FunctionCall.cancel(terminate_containers=True)``; False (logged) when Modal refused."""
    try:
        modal.FunctionCall.from_id(call_id).cancel(terminate_containers=True)
    except Exception:  # noqa: BLE001 - a cancel is best effort; the reaper asks again
        logger.warning("Could not cancel Modal call %s", call_id, exc_info=True)
        return False
    return True


def progress_store():
    """The Modal Dict the containers write progress into (a lazy handle: no call yet)."""
    return modal.Dict.from_name(PROGRESS_DICT_NAME, create_if_missing=True)


def progress_key(job: ExportJob) -> str:
    return f"{settings.MODAL_APP_NAME}:{job.pk}:{job.attempts}"


def _dispatch_error(exc: Exception) -> str:
    if isinstance(exc, modal_errors.NotFoundError):
        why = "the render function is not deployed; see docs/modal.md"
    elif isinstance(exc, modal_errors.AuthError):
        why = "its credentials were refused"
    else:
        why = "try again later"
    return f"{UNREACHABLE} ({why})."


# ---------------------------------------------------------------- storage


def _storage():
    from games.storage import default_storage

    return default_storage()


def staging_names(job: ExportJob) -> tuple[str, list[str]]:
    """Where this attempt's container PUTs its output and extras (one per annotate clip)."""
    base = f"modal-a{job.attempts}"
    main = output_name(job.owner_id, job.pk, f"{base}/output.mp4")
    count = len(job.input_snapshot.get("clips") or []) if job.kind == ExportJob.Kind.ANNOTATE else 0
    extras = [output_name(job.owner_id, job.pk, f"{base}/extra-{i:03d}.mp4") for i in range(count)]
    return main, extras


def presigned_put(storage, name: str) -> str:
    from games.storage import bucket_name, object_key, s3_client

    return s3_client(storage).generate_presigned_url(
        "put_object",
        Params={
            "Bucket": bucket_name(storage),
            "Key": object_key(name, storage),
            "ContentType": "video/mp4",
        },
        ExpiresIn=settings.MODAL_URL_SECONDS,
    )


def source_urls(job: ExportJob, storage) -> dict[str, str]:
    from exports.snapshots import snapshot_files
    from exports.sources import SourceMissing
    from games.storage import presigned_get_url

    urls = {}
    for key, name in snapshot_files(job.input_snapshot).items():
        if not storage.exists(name):
            raise SourceMissing(f"The source video {Path(name).name} is missing from storage.")
        urls[key] = presigned_get_url(
            storage, name, filename=Path(name).name, expires=settings.MODAL_URL_SECONDS
        )
    return urls


def _safe_extra_name(name: object, index: int) -> str:
    clean = Path(str(name or "")).name
    return clean if clean.endswith(".mp4") and not clean.startswith(".") else f"clip-{index}.mp4"


def cleanup(job: ExportJob) -> None:
    """Remove this attempt's staging files and progress entry (best effort)."""
    main, extras = staging_names(job)
    try:
        storage = _storage()
        for name in [main, *extras]:
            storage.delete(name)
    except Exception:  # noqa: BLE001 - leftovers are harmless; never fail a job for them
        logger.warning("Could not remove the staging files of export %s", job.pk, exc_info=True)
    try:
        progress_store().pop(progress_key(job), None)
    except Exception:  # noqa: BLE001
        logger.info("Could not remove the progress entry of export %s", job.pk, exc_info=True)


def cleanup_if_ours(job: ExportJob, progress: JobProgress) -> None:
    """``cleanup`` unless another relay owns the job now (it still needs those files).

    One forced heartbeat write tells: the update matches only while the job is ours.
    """
    if not progress.lost:
        try:
            progress.write()
        except Exception:  # noqa: BLE001 - cannot tell: keep the files, they are harmless
            logger.warning("Export %s: cannot check ownership", job.pk, exc_info=True)
            return
    if not progress.lost:
        cleanup(job)


# ---------------------------------------------------------------- the backend


class ModalBackend:
    name = "modal"

    def start(self, job: ExportJob) -> None:
        enqueue_render(job.pk)

    def execute(self, job: ExportJob, *, workdir: Path, progress: JobProgress) -> RenderOutput:
        """Dispatch (or re-attach to) the remote render, relay it, and collect its files."""
        if not job.remote_call_id:
            try:
                self.dispatch(job, progress)
            except ModalUnavailable as exc:
                if not settings.MODAL_FALLBACK_LOCAL:
                    raise
                return self._fall_back(job, workdir=workdir, progress=progress, reason=exc)
        # Only a normal exit cleans up: a worker stopped by a signal (BaseException) leaves
        # the call and its staging files to the relay the reaper will start.
        try:
            result = self.relay(job, progress)
            output = self.collect(job, result, workdir=workdir, progress=progress)
        except Exception:
            cleanup_if_ours(job, progress)
            raise
        cleanup_if_ours(job, progress)
        # Store nothing unless the job is still ours: a reaper may have handed it to another
        # relay meanwhile, and that one finalizes it (one output, one notification).
        if progress.lost:
            raise RenderCancelled()
        return output

    def cancel(self, job: ExportJob) -> None:
        if job.remote_call_id:
            cancel_call(job.remote_call_id)

    def check(self, job: ExportJob) -> bool | None:
        """For the reaper: True when this backend took care of the job, False to let it decide.

        Running or finished: a new relay takes the job over. Failed: the job fails with
        Modal's error. Unknown (Modal unreachable): the job is kept until the grace
        period after its last heartbeat ends, then fails. No call yet: the reaper
        re-queues it like a lost local job.
        """
        call_id = job.remote_call_id
        if not call_id:
            return False
        if job.cancel_requested_at:
            cancel_call(call_id)
            return False  # the reaper marks it cancelled, with its notification
        state = poll_call(call_id)
        if state.kind in ("running", "done"):
            take_over(job)
            return True
        if state.kind == "unknown":
            last = job.heartbeat_at or job.started_at or job.updated_at
            grace = timedelta(seconds=settings.MODAL_UNKNOWN_GRACE_SECONDS)
            if last is not None and timezone.now() - last < grace:
                logger.warning(
                    "Export %s: Modal cannot say how call %s is doing (%s); asking again later",
                    job.pk,
                    call_id,
                    state.detail,
                )
                return True
            cancel_call(call_id)
            return self._fail(job, unreachable_message(), state.detail)
        return self._fail(job, state.error, state.detail)

    # ------------------------------------------------------------ steps

    def dispatch(self, job: ExportJob, progress: JobProgress) -> str:
        """Presign, spawn, and save the call id on the job before anything else happens."""
        from games.storage import is_s3

        progress.stage(
            "starting", message="Sending the job to the GPU render service", start=0, end=0
        )
        storage = _storage()
        if not is_s3(storage):
            raise ModalUnavailable(
                "GPU renders need S3-compatible storage (S3_BUCKET); see docs/modal.md."
            )
        urls = source_urls(job, storage)
        main, extras = staging_names(job)
        try:
            function = modal.Function.from_name(
                settings.MODAL_APP_NAME, settings.MODAL_FUNCTION_NAME
            )
            call = function.spawn(
                job.pk,
                job.input_snapshot,
                urls,
                presigned_put(storage, main),
                [presigned_put(storage, name) for name in extras],
                progress_key(job),
            )
            call_id = call.object_id
        except Exception as exc:  # noqa: BLE001 - every dispatch failure means "not reachable"
            raise ModalUnavailable(_dispatch_error(exc)) from exc
        now = timezone.now()
        saved = ExportJob.objects.filter(
            pk=job.pk, status=ExportJob.Status.PROCESSING, worker_id=job.worker_id
        ).update(remote_call_id=call_id, updated_at=now)
        job.remote_call_id = call_id
        logger.info("Export %s dispatched to Modal as %s", job.pk, call_id)
        if not saved:  # the job is no longer ours: nobody would ever collect this render
            cancel_call(call_id)
            progress.write()
            raise RenderCancelled()
        progress.stage("starting", message="Waiting for a GPU", start=0, end=0)
        return call_id

    def relay(self, job: ExportJob, progress: JobProgress) -> dict:
        """Poll the call and its progress until it ends; returns its result dict."""
        call_id = job.remote_call_id
        store = progress_store()
        key = progress_key(job)
        seen: object = None
        unknown_since: float | None = None
        while True:
            if progress.cancel_requested():  # also the heartbeat while we wait
                cancel_call(call_id)
                raise RenderCancelled()
            state = poll_call(call_id)
            seen = relay_progress(store, key, progress, seen)
            if state.kind == "done":
                return state.result or {}
            if state.kind == "running":
                unknown_since = None
            elif state.kind == "unknown":
                now = time.monotonic()
                unknown_since = now if unknown_since is None else unknown_since
                if now - unknown_since >= settings.MODAL_UNKNOWN_GRACE_SECONDS:
                    cancel_call(call_id)
                    raise ModalRenderFailed(unreachable_message(), stderr_tail=state.detail)
            else:
                # A call the user cancelled ends in an error of its own: ask the row now
                # (the throttled heartbeat may not have seen the request yet).
                progress.write()
                if progress.cancelled or progress.lost:
                    raise RenderCancelled()
                raise ModalRenderFailed(state.error, stderr_tail=state.detail)
            time.sleep(settings.MODAL_POLL_SECONDS)

    def collect(
        self, job: ExportJob, result: dict, *, workdir: Path, progress: JobProgress
    ) -> RenderOutput:
        """Download the finished files from staging into ``workdir`` for the runner."""
        from games.storage import copy_to

        main, extras = staging_names(job)
        files: list[tuple[str, Path]] = [(main, workdir / "output.mp4")]
        named: list[tuple[str, Path]] = []
        for n, entry in enumerate(result.get("extras") or []):
            index = int(entry.get("index", n))
            if not 0 <= index < len(extras):
                raise RenderError("The GPU render returned files it was not asked for.")
            path = workdir / "clips" / _safe_extra_name(entry.get("name"), index)
            files.append((extras[index], path))
            named.append((path.name, path))
        storage = _storage()
        sizes = []
        for name, _ in files:
            if not storage.exists(name):
                raise RenderError(
                    "The GPU render's video is missing from storage; retry the export."
                )
            sizes.append(storage.size(name))
        total = sum(sizes) or 1
        progress.stage(
            "downloading",
            message="Collecting the video from the GPU render",
            start=COLLECT_SPAN[0],
            end=COLLECT_SPAN[1],
        )
        base = 0
        for (name, path), size in zip(files, sizes, strict=True):
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as out:
                copy_to(
                    storage,
                    name,
                    out,
                    progress=lambda done, _total, b=base: progress.fraction((b + done) / total),
                )
            base += size
            if progress.cancel_requested():
                raise RenderCancelled()
        return RenderOutput(
            path=files[0][1],
            expected_duration=float(result["expected_duration"]),
            clip_count=int(result.get("clip_count") or 1),
            extras=named,
        )

    # ------------------------------------------------------------ helpers

    def _fall_back(
        self, job: ExportJob, *, workdir: Path, progress: JobProgress, reason: Exception
    ) -> RenderOutput:
        """MODAL_FALLBACK_LOCAL: render in this worker instead (the job becomes a local one)."""
        from exports.backends.local import LocalBackend

        logger.warning("Export %s: %s; rendering locally instead", job.pk, reason)
        ExportJob.objects.filter(
            pk=job.pk, status=ExportJob.Status.PROCESSING, worker_id=job.worker_id
        ).update(backend=ExportJob.Backend.LOCAL)
        job.backend = ExportJob.Backend.LOCAL
        progress.stage(
            "fetching", message="GPU render service unreachable; rendering here", start=0, end=0
        )
        return LocalBackend().execute(job, workdir=workdir, progress=progress)

    def _fail(self, job: ExportJob, error: str, detail: str) -> bool:
        from exports.services import export_fail

        export_fail(job=job, error=error, detail=detail)
        cleanup(job)
        return True


def unreachable_message() -> str:
    minutes = max(round(settings.MODAL_UNKNOWN_GRACE_SECONDS / 60), 1)
    return (
        f"{UNREACHABLE} for {minutes} minute{'s' if minutes != 1 else ''}; "
        "the export was stopped. Retry it."
    )


def relay_progress(store, key: str, progress: JobProgress, seen: object) -> object:
    """Feed the container's newest progress entry (if new) to the worker's reporter."""
    try:
        entry = store.get(key)
    except Exception:  # noqa: BLE001 - progress is best effort; the call's state decides
        return seen
    if not isinstance(entry, dict) or entry.get("seq") == seen:
        return seen
    percent = min(max(float(entry.get("progress") or 0), 0.0), 100.0) * REMOTE_SHARE / 100
    items = entry.get("items") or {}
    progress.stage(
        str(entry.get("stage") or "rendering")[:32],
        message=str(entry.get("message") or "")[:255],
        start=percent,
        end=percent,
        item=int(items.get("done") or 0) or None,
        items=int(items.get("total") or 0) or None,
    )
    return entry.get("seq")


# ---------------------------------------------------------------- recovery


def take_over(job: ExportJob) -> bool:
    """Hand a job whose worker was lost to a new relay task (one conditional update)."""
    token = f"modal-relay:{uuid.uuid4().hex[:12]}"
    now = timezone.now()
    moved = ExportJob.objects.filter(
        pk=job.pk,
        status=ExportJob.Status.PROCESSING,
        worker_id=job.worker_id,
        heartbeat_at=job.heartbeat_at,
    ).update(worker_id=token, heartbeat_at=now, updated_at=now)
    if moved:
        logger.warning("Export %s: worker %s lost; a new relay takes over", job.pk, job.worker_id)
        enqueue_relay(job.pk, token)
    return bool(moved)


def enqueue_relay(job_id: int, token: str) -> None:
    from django_q.tasks import async_task

    async_task(RELAY_TASK, job_id, token, task_name=f"export-{job_id}-relay")


def relay_export(job_id: int, token: str) -> str:
    """Queue task: relay (and finalize) a Modal job taken over by ``take_over``.

    The task first claims the job from the token for this process (``host:pid``, like
    any worker), so a duplicate task, or one that runs after another takeover, does
    nothing. Returns the status the job ended in, "lost", or "skipped".
    """
    from exports import runner

    me = runner.worker_id()
    now = timezone.now()
    claimed = ExportJob.objects.filter(
        pk=job_id, status=ExportJob.Status.PROCESSING, worker_id=token
    ).update(worker_id=me, heartbeat_at=now, updated_at=now)
    if not claimed:
        return "skipped"
    job = ExportJob.objects.get(pk=job_id)
    with runner.work_folder(job) as folder:
        # The engine's own finishing path: verify, store, finalize, or fail / cancel.
        return runner.run_claimed(job, folder, JobProgress(job))
