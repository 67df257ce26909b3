"""Queue entry points (django-q2 runs these by dotted path; they only call services)."""

from __future__ import annotations

import logging

from django.db import close_old_connections

from config.schedules import ensure_schedules

logger = logging.getLogger(__name__)


def render_export(job_id: int) -> str:
    """Claim and render one export job (a no-op if another worker or a cancel got it first)."""
    from exports.runner import run_job

    return run_job(job_id=job_id)


def reap_exports() -> dict[str, int]:
    """Re-queue or fail jobs whose worker was lost (scheduled, and on every worker start)."""
    from exports.runner import sweep_work_folders
    from exports.services import exports_reap

    counts = exports_reap()
    counts["folders_removed"] = sweep_work_folders()
    return counts


def on_worker_start(sender=None, proc_name: str = "", **kwargs) -> None:
    """django-q2 ``post_spawn``: a worker process started; reap what a lost one left behind."""
    try:
        close_old_connections()
        ensure_schedules()
        counts = reap_exports()
        logger.info("Export reaper on worker start (%s): %s", proc_name, counts)
    except Exception:  # a reaper failure must never keep a worker from starting
        logger.exception("Export reaper on worker start failed")
    finally:
        close_old_connections()
