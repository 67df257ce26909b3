"""Export job workflows: start, cancel, retry, reap; and the worker's claim / finalize / fail.

Every status change is one conditional update (``ExportJob.transition``), so two
processes racing for the same job (two workers, a worker and the reaper, a
cancel and a completion) cannot both win. Start, completion, failure and
cancellation each record one notification (``exports.notices``), keyed by the
job, in the same transaction as the status, so running a step twice never
notifies twice. The start is recorded as already read: it is for the history,
the export indicator shows a running job.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce
from django.shortcuts import get_object_or_404
from django.utils import timezone

from config.errors import ApiError
from exports import notices
from exports.backends import default_backend_name, get_backend
from exports.models import ExportJob
from exports.snapshots import build_snapshot
from games.models import Game, Project
from notifications.services import publish_job

logger = logging.getLogger(__name__)

Status = ExportJob.Status
KINDS = ExportJob.Kind.values
IDEMPOTENCY_KEY_MAX = 128
RECENT_DAYS = 7
LOST_MESSAGE = "Resumed after a worker was lost"
# A pending job whose queue message was lost (Redis restarted) is re-queued after this long.
PENDING_REQUEUE_SECONDS = 900


# ---------------------------------------------------------------- starting


def _check_key(key: str | None) -> str | None:
    if key is None:
        return None
    key = key.strip()
    if not key or len(key) > IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise ApiError(
            422,
            "invalid",
            "The Idempotency-Key header is not valid.",
            {"Idempotency-Key": [f"1 to {IDEMPOTENCY_KEY_MAX} printable characters."]},
        )
    return key


def _target(user, kind: str, project_id, game_id) -> tuple[Game | None, Project | None]:
    if kind == ExportJob.Kind.ANNOTATE:
        if game_id is None:
            raise ApiError(
                422, "invalid", "An annotate export needs a game.", {"game_id": ["Required."]}
            )
        return get_object_or_404(Game.objects.owned_by(user), pk=game_id), None
    if project_id is None:
        raise ApiError(
            422, "invalid", f"A {kind} export needs a project.", {"project_id": ["Required."]}
        )
    project = get_object_or_404(
        Project.objects.owned_by(user).select_related("game"), pk=project_id
    )
    return project.game, project


def export_start(
    *,
    user,
    kind: str,
    project_id: int | None = None,
    game_id: int | None = None,
    options: dict | None = None,
    idempotency_key: str | None = None,
    retry_of: ExportJob | None = None,
) -> ExportJob:
    """Validate and snapshot the input, create a pending job and queue it after commit.

    The same ``idempotency_key`` (per user) returns the job it created the first time,
    whatever the body. Each user may have ``EXPORT_MAX_ACTIVE_PER_USER`` jobs pending
    or processing; one more is refused with 429 ``too_many_exports``.
    """
    key = _check_key(idempotency_key)
    if key is not None:
        existing = ExportJob.objects.filter(owner=user, idempotency_key=key).first()
        if existing is not None:
            return existing
    if kind not in KINDS:
        raise ApiError(
            422, "invalid", "Unknown kind of export.", {"kind": [f"One of {', '.join(KINDS)}."]}
        )
    game, project = _target(user, kind, project_id, game_id)
    snapshot = build_snapshot(kind=kind, game=game, project=project, options=options)
    backend = default_backend_name()
    try:
        with transaction.atomic():
            # Lock the user's row so two requests cannot both pass the cap (PostgreSQL;
            # SQLite's write transactions are serialized anyway).
            get_user_model().objects.select_for_update().filter(pk=user.pk).first()
            active = ExportJob.objects.filter(owner=user, status__in=ExportJob.ACTIVE_STATUSES)
            if active.count() >= settings.EXPORT_MAX_ACTIVE_PER_USER:
                raise ApiError(
                    429,
                    "too_many_exports",
                    f"You already have {settings.EXPORT_MAX_ACTIVE_PER_USER} exports running "
                    "or queued; wait for one to finish or cancel one.",
                )
            job = ExportJob.objects.create(
                owner=user,
                kind=kind,
                game=game,
                project=project,
                options=options or {},
                input_snapshot=snapshot,
                backend=backend,
                max_attempts=settings.EXPORT_MAX_ATTEMPTS,
                idempotency_key=key,
                retry_of=retry_of,
                stage="queued",
                message="Waiting for a worker",
            )
            notices.notify_started(job)
            transaction.on_commit(lambda: get_backend(backend).start(job))
    except IntegrityError:
        # A concurrent request with the same key created it first.
        existing = ExportJob.objects.filter(owner=user, idempotency_key=key).first()
        if key is None or existing is None:
            raise
        return existing
    publish_job(job)
    return job


def export_retry(*, job: ExportJob, user) -> ExportJob:
    """A new job for the same input as a failed or cancelled one (read again from the project)."""
    if job.status not in (Status.ERROR, Status.CANCELLED):
        raise ApiError(409, "not_retryable", "Only a failed or cancelled export can be retried.")
    if job.game_id is None and job.project_id is None:
        raise ApiError(409, "not_retryable", "The game or project of this export was deleted.")
    return export_start(
        user=user,
        kind=job.kind,
        project_id=job.project_id,
        game_id=job.game_id,
        options=job.options,
        retry_of=job,
    )


# ---------------------------------------------------------------- cancelling


def export_cancel(*, job: ExportJob, by=None) -> ExportJob:
    """Cancel in any state: a pending job at once; a running one as soon as its worker notices.

    Cancelling a cancelled job is a no-op; a finished job answers 409.
    """
    now = timezone.now()
    if job.status == Status.PENDING:
        with transaction.atomic():
            if job.transition(
                Status.CANCELLED,
                cancel_requested_at=now,
                completed_at=now,
                stage="cancelled",
                message="Cancelled",
                eta_seconds=None,
            ):
                notices.notify_cancelled(job)
                publish_job(job)
                return job
        job.refresh_from_db()  # a worker claimed it in the meantime
    if job.status == Status.PROCESSING:
        ExportJob.objects.filter(
            pk=job.pk, status=Status.PROCESSING, cancel_requested_at__isnull=True
        ).update(cancel_requested_at=now, message="Cancelling…", updated_at=now)
        job.refresh_from_db()
        get_backend(job.backend).cancel(job)
        publish_job(job)
        return job
    if job.status == Status.CANCELLED:
        return job
    raise ApiError(409, "already_finished", "This export already finished; it cannot be cancelled.")


# ---------------------------------------------------------------- the worker's side


def export_claim(*, job_id: int, worker_id: str) -> ExportJob | None:
    """Take a pending job for ``worker_id`` (one conditional update); None if another won."""
    now = timezone.now()
    claimed = ExportJob.objects.filter(
        pk=job_id, status=Status.PENDING, cancel_requested_at__isnull=True
    ).update(
        status=Status.PROCESSING,
        worker_id=worker_id,
        attempts=F("attempts") + 1,
        heartbeat_at=now,
        started_at=Coalesce(F("started_at"), now),
        updated_at=now,
        stage="starting",
        message="Starting",
        progress=0,
        eta_seconds=None,
        error="",
        error_detail="",
    )
    if not claimed:
        return None
    job = ExportJob.objects.get(pk=job_id)
    logger.info("Export %s claimed by %s (attempt %s)", job_id, worker_id, job.attempts)
    publish_job(job)
    return job


def _owned(job: ExportJob) -> dict:
    return {"worker_id": job.worker_id}


@transaction.atomic
def export_finalize(
    *,
    job: ExportJob,
    output_name: str,
    output_size: int,
    output_duration: float,
    extra_files: list[dict] | None = None,
) -> ExportJob:
    """Mark a processing job complete with its stored output; idempotent.

    In the same transaction: the project's working video (framing) or final video
    (overlay) is set, and the completion notification is recorded (annotate also
    records ``extraction.completed`` for its per-clip files). Called again for a job
    that is already complete, it changes nothing and notifies nobody.
    """
    if job.status != Status.PROCESSING:
        return job  # finalized (or ended) before: nothing to do, nothing to notify
    now = timezone.now()
    done = job.transition(
        Status.COMPLETE,
        where=_owned(job),
        output_file=output_name,
        output_size=output_size,
        output_duration=output_duration,
        extra_files=extra_files or [],
        progress=100.0,
        stage="complete",
        message="Done",
        eta_seconds=0,
        completed_at=now,
        heartbeat_at=now,
    )
    if not done:
        job.refresh_from_db()
        return job
    if job.project_id and job.kind in (ExportJob.Kind.FRAMING, ExportJob.Kind.OVERLAY):
        field = "working_video" if job.kind == ExportJob.Kind.FRAMING else "final_video"
        Project.objects.filter(pk=job.project_id).update(**{field: output_name, "updated_at": now})
    notices.notify_completed(job)
    if extra_files:
        notices.notify_extracted(job)
    publish_job(job)
    return job


@transaction.atomic
def export_fail(*, job: ExportJob, error: str, detail: str = "") -> ExportJob:
    """Mark a job failed with a sentence for the user and a diagnostic for the admin."""
    if job.is_finished:
        return job
    now = timezone.now()
    where = _owned(job) if job.status == Status.PROCESSING else None
    if not job.transition(
        Status.ERROR,
        where=where,
        error=error[:500],
        error_detail=detail[-20000:],
        stage="error",
        message=error[:255],
        eta_seconds=None,
        completed_at=now,
    ):
        job.refresh_from_db()
        return job
    notices.notify_failed(job)
    publish_job(job)
    return job


@transaction.atomic
def export_mark_cancelled(*, job: ExportJob) -> ExportJob:
    """The worker stopped a job on request: status cancelled, one notification."""
    if job.is_finished:
        return job
    now = timezone.now()
    where = _owned(job) if job.status == Status.PROCESSING else None
    if not job.transition(
        Status.CANCELLED,
        where=where,
        stage="cancelled",
        message="Cancelled",
        eta_seconds=None,
        completed_at=now,
        cancel_requested_at=Coalesce(F("cancel_requested_at"), now),
    ):
        job.refresh_from_db()
        return job
    notices.notify_cancelled(job)
    publish_job(job)
    return job


# ---------------------------------------------------------------- the reaper


def _requeue_lost(job: ExportJob) -> bool:
    with transaction.atomic():
        moved = job.transition(
            Status.PENDING,
            where={"heartbeat_at": job.heartbeat_at, "worker_id": job.worker_id},
            worker_id="",
            heartbeat_at=None,
            stage="queued",
            message=LOST_MESSAGE,
            eta_seconds=None,
        )
        if moved:
            backend = job.backend
            transaction.on_commit(lambda: get_backend(backend).start(job))
    if moved:
        publish_job(job)
    return moved


def exports_reap(*, now: datetime | None = None) -> dict[str, int]:
    """Deal with jobs whose worker went quiet; never touches a job with a fresh heartbeat.

    A ``processing`` job whose heartbeat is older than ``EXPORT_STALE_AFTER_SECONDS``
    (and that its backend does not report alive) is cancelled if a cancel was asked,
    re-queued while attempts remain ("Resumed after a worker was lost"), else failed.
    A ``pending`` job queued long ago is queued once more (a lost queue message; the
    claim makes a duplicate harmless). Runs on every worker start and on a schedule.
    """
    now = now or timezone.now()
    stale = now - timedelta(seconds=settings.EXPORT_STALE_AFTER_SECONDS)
    counts = {"requeued": 0, "failed": 0, "cancelled": 0, "alive": 0, "pending_requeued": 0}
    candidates = ExportJob.objects.filter(status=Status.PROCESSING).filter(
        Q(heartbeat_at__lt=stale) | Q(heartbeat_at__isnull=True, started_at__lt=stale)
    )
    for job in candidates:
        if get_backend(job.backend).check(job):
            counts["alive"] += 1
            continue
        where = {"heartbeat_at": job.heartbeat_at, "worker_id": job.worker_id}
        if job.cancel_requested_at:
            with transaction.atomic():
                if job.transition(
                    Status.CANCELLED,
                    where=where,
                    stage="cancelled",
                    message="Cancelled",
                    completed_at=now,
                    eta_seconds=None,
                ):
                    notices.notify_cancelled(job)
                    counts["cancelled"] += 1
            publish_job(job)
        elif job.attempts < job.max_attempts:
            lost_worker = job.worker_id
            if _requeue_lost(job):
                logger.warning("Export %s: worker %s lost, re-queued", job.pk, lost_worker)
                counts["requeued"] += 1
        else:
            error = (
                f"The export stopped: its worker was lost {job.attempts} time"
                f"{'s' if job.attempts != 1 else ''}."
            )
            with transaction.atomic():
                if job.transition(
                    Status.ERROR,
                    where=where,
                    error=error,
                    error_detail=f"Last worker {job.worker_id}; heartbeat {job.heartbeat_at}.",
                    stage="error",
                    message=error,
                    completed_at=now,
                    eta_seconds=None,
                ):
                    notices.notify_failed(job)
                    counts["failed"] += 1
            publish_job(job)
    queued_before = now - timedelta(seconds=PENDING_REQUEUE_SECONDS)
    for job in ExportJob.objects.filter(status=Status.PENDING, updated_at__lt=queued_before):
        if ExportJob.objects.filter(
            pk=job.pk, status=Status.PENDING, updated_at=job.updated_at
        ).update(updated_at=now):
            get_backend(job.backend).start(job)
            counts["pending_requeued"] += 1
    return counts


# ---------------------------------------------------------------- reading


def exports_list(
    *, user, state: str = "all", cursor: int | None = None, limit: int = 20
) -> tuple[list[ExportJob], int | None]:
    """A page of the user's jobs, newest first, and the cursor of the next page (or None).

    ``active``: pending or processing; ``recent``: finished in the last 7 days;
    ``all``: every job.
    """
    jobs = ExportJob.objects.filter(owner=user)
    if state == "active":
        jobs = jobs.filter(status__in=ExportJob.ACTIVE_STATUSES)
    elif state == "recent":
        since = timezone.now() - timedelta(days=RECENT_DAYS)
        jobs = jobs.filter(status__in=ExportJob.FINISHED_STATUSES, created_at__gte=since)
    elif state != "all":
        raise ApiError(422, "invalid", "Unknown state.", {"state": ["One of active, recent, all."]})
    if cursor:
        jobs = jobs.filter(pk__lt=cursor)
    page = list(jobs.order_by("-id")[: limit + 1])
    next_cursor = page[limit - 1].pk if len(page) > limit else None
    return page[:limit], next_cursor


def export_get(*, user, job_id: int) -> ExportJob:
    """One of the user's jobs; anyone else's is a 404."""
    return get_object_or_404(ExportJob.objects.filter(owner=user), pk=job_id)
