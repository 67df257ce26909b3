"""The worker's progress reporter: the renderer's ``ProgressSink`` for one claimed job.

Percent is weighted across stages: the engine owns 0–5 (fetching sources) and
95–100 (verifying, storing); the renderer reports 5–95 with one span per step
("rendering clip 3 of 7", "joining"). Each report is cheap and in memory; I/O is
throttled:

- the job row is written at most once per ``WRITE_EVERY`` second, and at least
  every ``EXPORT_HEARTBEAT_SECONDS`` (that write is the heartbeat);
- a hub ``job`` frame is offered on every visible change and the hub throttles it
  to a few per second (``notifications.services.publish_job``, always sending the last).

Cancel is read for free from the heartbeat write: the UPDATE only matches while
``cancel_requested_at`` is empty and the job is still ours, so when it matches no
row one small SELECT tells a cancel (stop, clean up, mark cancelled) from a lost
claim (the reaper gave the job to another worker: stop and touch nothing).

All writes happen in the thread that renders (``run_ffmpeg`` polls
``cancel_requested()`` ten times a second even while FFmpeg is silent), so the
worker needs no extra thread or database connection.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from django.conf import settings
from django.utils import timezone

from exports.models import ExportJob
from exports.renderers.progress import StagedProgress

logger = logging.getLogger(__name__)

WRITE_EVERY = 1.0


class JobProgress(StagedProgress):
    """Implements ``exports.renderers.ProgressSink`` for ``job`` as claimed by ``worker_id``."""

    def __init__(
        self,
        job: ExportJob,
        *,
        publish: Callable[[ExportJob], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        listener: Callable[[JobProgress], None] | None = None,
    ) -> None:
        if publish is None:
            from notifications.services import publish_job as publish
        super().__init__(
            percent=job.progress or 0, stage_name=job.stage, message=job.message, clock=clock
        )
        self.job = job
        self.worker_id = job.worker_id
        self._publish = publish
        self._listener = listener
        self._started = clock()
        self._last_write = clock()
        self._written = self._state()
        self._published: tuple | None = None
        self.heartbeat_every = float(settings.EXPORT_HEARTBEAT_SECONDS)
        self.cancelled = False
        self.lost = False
        self.writes = 0
        self.pids: list[int] = []
        # Database writes and hub offers only from the thread that renders: callbacks from
        # other threads (an S3 upload's transfer threads) only move the numbers in memory.
        self._owner = threading.get_ident()

    # ------------------------------------------------------------ ProgressSink

    def cancel_requested(self) -> bool:
        if not (self.cancelled or self.lost) and self._on_owner_thread():
            self._offer_frame()
            self._maybe_write()
        return self.cancelled or self.lost

    def on_process(self, pid: int) -> None:
        self.pids.append(pid)
        if self._listener is not None:
            self._listener(self)

    # ------------------------------------------------------------ internals

    def _on_owner_thread(self) -> bool:
        return threading.get_ident() == self._owner

    def changed(self, *, stage_changed: bool, moved: bool) -> None:
        if self._on_owner_thread():
            self._offer_frame()
            self._maybe_write()

    def _state(self) -> tuple:
        return (
            round(self.percent, 1),
            self.stage_name,
            self.message,
            self.item,
            self.items,
            self.eta,
        )

    def _apply(self, job: ExportJob) -> None:
        job.progress = round(self.percent, 2)
        job.stage = self.stage_name[:32]
        job.message = self.message[:255]
        job.items_done = self.item or 0
        job.items_total = self.items or 0
        job.eta_seconds = self.eta
        job.updated_at = timezone.now()

    def _offer_frame(self) -> None:
        state = self._state()[:5]
        if state == self._published:
            return
        self._published = state
        self._apply(self.job)
        self._publish(self.job)
        if self._listener is not None:
            self._listener(self)

    def _maybe_write(self) -> None:
        now = self._clock()
        since = now - self._last_write
        changed = self._state() != self._written
        if (changed and since >= WRITE_EVERY) or since >= self.heartbeat_every:
            self.write()

    def write(self) -> None:
        """One UPDATE: progress fields + heartbeat, only while the job is still ours."""
        now = timezone.now()
        self._last_write = self._clock()
        self._written = self._state()
        self._apply(self.job)
        fields = {
            "progress": self.job.progress,
            "stage": self.job.stage,
            "message": self.job.message,
            "items_done": self.job.items_done,
            "items_total": self.job.items_total,
            "eta_seconds": self.job.eta_seconds,
            "heartbeat_at": now,
            "updated_at": now,
        }
        mine = ExportJob.objects.filter(
            pk=self.job.pk, status=ExportJob.Status.PROCESSING, worker_id=self.worker_id
        )
        self.writes += 1
        if mine.filter(cancel_requested_at__isnull=True).update(**fields):
            return
        # Keep heartbeating while we stop, so the reaper leaves the job to us.
        if mine.update(heartbeat_at=now, updated_at=now):
            self.cancelled = True
            logger.info("Export %s: cancel requested, stopping", self.job.pk)
        else:
            self.lost = True
            logger.warning(
                "Export %s is no longer ours (%s); stopping", self.job.pk, self.worker_id
            )
