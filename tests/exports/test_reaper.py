"""The reaper: lost workers' jobs re-queued or failed; fresh heartbeats never touched."""

from __future__ import annotations

import os
from datetime import timedelta

import pytest
from django.utils import timezone

from exports import services
from exports.models import ExportJob
from notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch):
    ids: list[int] = []
    monkeypatch.setattr("exports.backends.local.enqueue_render", ids.append)
    return ids


@pytest.fixture
def running(user, game, clips, start_job, hub):
    def _running(*, beat_seconds_ago: float, attempts: int = 1, cancel: bool = False):
        job = start_job(user, kind="annotate", game_id=game.pk)
        job = services.export_claim(job_id=job.pk, worker_id="gone:42")
        beat = timezone.now() - timedelta(seconds=beat_seconds_ago)
        ExportJob.objects.filter(pk=job.pk).update(
            heartbeat_at=beat,
            attempts=attempts,
            cancel_requested_at=timezone.now() if cancel else None,
        )
        return job

    return _running


def reap(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        return services.exports_reap()


def test_stale_job_is_requeued_once(running, queued, django_capture_on_commit_callbacks,
                                    settings):  # fmt: skip
    job = running(beat_seconds_ago=settings.EXPORT_STALE_AFTER_SECONDS + 5)
    assert reap(django_capture_on_commit_callbacks)["requeued"] == 1
    job.refresh_from_db()
    assert (job.status, job.worker_id, job.message) == (
        "pending",
        "",
        "Resumed after a worker was lost",
    )
    assert queued == [job.pk]
    assert reap(django_capture_on_commit_callbacks)["requeued"] == 0


def test_fresh_heartbeat_is_never_touched(running, queued, django_capture_on_commit_callbacks):
    job = running(beat_seconds_ago=1)
    counts = reap(django_capture_on_commit_callbacks)
    assert counts["requeued"] == counts["failed"] == 0
    job.refresh_from_db()
    assert job.status == "processing" and job.worker_id == "gone:42"
    assert queued == []


def test_stale_job_without_attempts_left_fails_with_one_notification(
    running, queued, django_capture_on_commit_callbacks, settings
):
    job = running(beat_seconds_ago=settings.EXPORT_STALE_AFTER_SECONDS + 5, attempts=3)
    assert reap(django_capture_on_commit_callbacks)["failed"] == 1
    reap(django_capture_on_commit_callbacks)
    job.refresh_from_db()
    assert job.status == "error" and "lost 3 times" in job.error
    assert Notification.objects.filter(kind="export.failed", data__job_id=job.pk).count() == 1
    assert queued == []


def test_stale_job_with_a_cancel_request_is_cancelled(
    running, queued, django_capture_on_commit_callbacks, settings
):
    job = running(beat_seconds_ago=settings.EXPORT_STALE_AFTER_SECONDS + 5, cancel=True)
    assert reap(django_capture_on_commit_callbacks)["cancelled"] == 1
    job.refresh_from_db()
    assert job.status == "cancelled"
    assert Notification.objects.filter(kind="export.cancelled", data__job_id=job.pk).count() == 1


def test_leftover_work_folders_of_dead_workers_are_removed_live_ones_kept(work_dir, running):
    import socket
    import subprocess

    from exports.runner import sweep_work_folders

    host = socket.gethostname()
    finished = subprocess.Popen(["true"])
    finished.wait()
    dead = f"{host}:{finished.pid}"  # a pid that no longer runs
    lost_job, live_job = running(beat_seconds_ago=0), running(beat_seconds_ago=0)
    ExportJob.objects.filter(pk=lost_job.pk).update(worker_id=dead)
    ExportJob.objects.filter(pk=live_job.pk).update(worker_id=f"{host}:{os.getpid()}")
    folders = {}
    for job, worker in ((lost_job, dead), (live_job, f"{host}:{os.getpid()}")):
        folder = work_dir / f"job{job.pk}-a1-deadbeef"
        folder.mkdir(parents=True)
        (folder / "worker").write_text(worker)
        (folder / "part001.mov").write_bytes(b"x")
        folders[job.pk] = folder

    assert sweep_work_folders() == 1
    assert not folders[lost_job.pk].exists()
    assert folders[live_job.pk].exists()


def test_periodic_schedules_are_created_once_and_retimed(settings):
    from django_q.models import Schedule

    from config.schedules import ensure_schedules

    ensure_schedules()
    ensure_schedules()
    assert Schedule.objects.count() == 2
    reaper = Schedule.objects.get(func="exports.tasks.reap_exports")
    assert reaper.minutes == settings.EXPORT_REAP_EVERY_MINUTES
    assert Schedule.objects.get(func="games.tasks.cleanup_uploads").minutes == 60
    settings.EXPORT_REAP_EVERY_MINUTES = 5
    ensure_schedules()
    assert Schedule.objects.get(pk=reaper.pk).minutes == 5


def test_system_check_refuses_a_stale_limit_shorter_than_three_heartbeats(settings):
    from exports.apps import check_heartbeat

    settings.EXPORT_HEARTBEAT_SECONDS, settings.EXPORT_STALE_AFTER_SECONDS = 5, 10
    assert [e.id for e in check_heartbeat()] == ["exports.E001"]
    settings.EXPORT_STALE_AFTER_SECONDS = 60
    assert check_heartbeat() == []
