"""A real qcluster killed with SIGKILL mid-render: the reaper re-queues the job, it completes.

The children work on this run's test database (REELFORGE_CHILD_PROCESS) and on a queue
of their own, so no other test's worker can take the job.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings

from exports.models import ExportJob
from notifications.models import Notification

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BASE_DIR = Path(settings.BASE_DIR)
STALE_AFTER = 3


@pytest.fixture
def shared_media(settings):
    """The children's MEDIA_ROOT (config.settings_test), instead of the per-test one."""
    settings.MEDIA_ROOT = settings.TEST_VAR_DIR / "media"
    settings.MEDIA_ROOT.mkdir(parents=True, exist_ok=True)
    return settings.MEDIA_ROOT


@pytest.fixture
def cluster(tmp_path):
    queue = f"exports-kill-{uuid.uuid4().hex[:8]}"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings_test",
        "REELFORGE_CHILD_PROCESS": "1",
        "QCLUSTER_NAME": queue,
        "QCLUSTER_WORKERS": "1",
        "FFMPEG_READRATE": "1",
        "EXPORT_STALE_AFTER_SECONDS": str(STALE_AFTER),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    procs: list[subprocess.Popen] = []

    def start() -> subprocess.Popen:
        log = open(tmp_path / f"qcluster{len(procs)}.log", "w")  # noqa: SIM115 - kept with it
        proc = subprocess.Popen(
            [sys.executable, "manage.py", "qcluster"],
            cwd=BASE_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        procs.append(proc)
        return proc

    start.queue = queue  # type: ignore[attr-defined]
    yield start
    for proc in procs:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def job_row(job_id: int) -> ExportJob:
    return ExportJob.objects.get(pk=job_id)


def test_killed_worker_job_is_requeued_by_the_reaper_and_rendered_exactly_twice(
    shared_media, user, game, clips, cluster, django_capture_on_commit_callbacks, monkeypatch
):
    from django_q.conf import Conf

    from exports.services import export_start

    # Enqueue as the children's cluster does: its name is also the tasks' signing salt.
    monkeypatch.setattr(Conf, "PREFIX", cluster.queue)
    monkeypatch.setattr(Conf, "CLUSTER_NAME", cluster.queue)
    with django_capture_on_commit_callbacks(execute=True):
        job = export_start(user=user, kind="annotate", game_id=game.pk)

    first = cluster()
    running = wait_for(
        lambda: (
            (row := job_row(job.pk)).status == "processing" and row.stage == "rendering" and row
        ),
        90,
        "the first worker to render",
    )
    first_worker = running.worker_id
    render_dir = Path(settings.EXPORT_WORK_DIR)
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(timeout=10)

    # Lost: nothing heartbeats any more. A new worker's reaper acts once the beat is stale.
    wait_for(
        lambda: time.time() - job_row(job.pk).heartbeat_at.timestamp() > STALE_AFTER + 0.5,
        30,
        "the heartbeat to go stale",
    )
    assert job_row(job.pk).status == "processing"
    cluster()
    done = wait_for(
        lambda: (row := job_row(job.pk)).status in ExportJob.FINISHED_STATUSES and row,
        120,
        "the re-queued job to finish",
    )

    assert done.status == "complete", done.error
    assert done.attempts == 2
    assert done.worker_id != first_worker
    assert done.progress == 100 and done.output_file
    completions = Notification.objects.filter(kind="export.completed", data__job_id=job.pk)
    assert completions.count() == 1
    # The second attempt removed what the killed one left (and its orphaned FFmpeg).
    assert list(render_dir.glob(f"job{job.pk}-*")) == []
