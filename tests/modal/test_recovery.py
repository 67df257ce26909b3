"""The reaper and a Modal job whose worker was lost: ask Modal, then take over, fail or wait."""

from __future__ import annotations

from datetime import timedelta

import modal.exception
import pytest
from django.utils import timezone

from exports import runner
from exports.backends.modal import relay_export
from exports.models import ExportJob
from exports.progress import JobProgress
from exports.remote_render import RemoteRenderError
from exports.services import export_finalize, exports_reap
from notifications.models import Notification
from tests.modal.conftest import FakeCall, Poll
from tests.modal.helpers import bucket_keys

pytestmark = pytest.mark.django_db


class WorkerKilled(BaseException):
    """The worker process dies while it relays (nothing of ours catches a BaseException)."""


def stale(job: ExportJob, seconds: float = 300) -> ExportJob:
    ExportJob.objects.filter(pk=job.pk).update(
        heartbeat_at=timezone.now() - timedelta(seconds=seconds)
    )
    job.refresh_from_db()
    return job


def notifications(user) -> list[str]:
    """The user's notifications about export jobs (not the upload of the test game)."""
    mine = Notification.objects.filter(user=user, data__job_id__isnull=False).exclude(
        kind="export.started"
    )
    return sorted(mine.values_list("kind", flat=True))


@pytest.fixture
def orphan(user, game, clips, start_job, run_job, hub, fake_modal):
    """An annotate job whose container rendered it while its worker died relaying."""
    job = start_job(user, kind="annotate", game_id=game.pk)
    fake_modal.script = [WorkerKilled()]
    with pytest.raises(WorkerKilled):
        run_job(job)
    fake_modal.last.script = [Poll.RUNNING, "done"]
    job.refresh_from_db()
    assert (job.status, job.remote_call_id) == ("processing", fake_modal.last.object_id)
    return stale(job)


@pytest.fixture
def parked(user, fake_modal):
    """A processing Modal job with a stale heartbeat and a call the test scripts."""
    job = ExportJob.objects.create(
        owner=user,
        kind="framing",
        status=ExportJob.Status.PROCESSING,
        backend=ExportJob.Backend.MODAL,
        remote_call_id="fc-parked",
        worker_id="lost-host:42",
        attempts=1,
        started_at=timezone.now() - timedelta(seconds=400),
        input_snapshot={"kind": "framing"},
    )
    fake_modal.calls["fc-parked"] = FakeCall("fc-parked", (), fake_modal, script=[Poll.RUNNING])
    return stale(job)


def test_reaper_hands_a_running_call_to_a_relay_that_finalizes_it(
    orphan, user, relays, fake_modal, s3
):
    counts = exports_reap()

    assert counts["alive"] == 1
    [(job_id, token)] = relays
    orphan.refresh_from_db()
    assert (job_id, orphan.worker_id, orphan.status) == (orphan.pk, token, "processing")

    assert relay_export(job_id, token) == "complete"
    assert relay_export(job_id, token) == "skipped"  # a duplicate task does nothing

    orphan.refresh_from_db()
    assert orphan.worker_id == runner.worker_id()
    assert [f["name"] for f in orphan.extra_files] == ["01-goal.mp4", "02-save.mp4"]
    assert notifications(user) == ["export.completed", "extraction.completed"]
    assert not [key for key in bucket_keys(s3) if "/modal-a" in key]


@pytest.mark.parametrize("comes_back", ["before the relay", "after the relay"])
def test_a_result_collected_twice_is_stored_once_and_notified_once(
    comes_back, orphan, user, relays, fake_modal, s3, tmp_path
):
    old = ExportJob.objects.get(pk=orphan.pk)  # what the lost worker still holds
    exports_reap()
    exports_reap()  # a second reaper round: the job is not stale any more
    [(job_id, token)] = relays

    def old_worker_returns() -> str:
        folder = tmp_path / "old-worker"
        folder.mkdir()
        return runner.run_claimed(old, folder, JobProgress(old))

    if comes_back == "before the relay":
        assert old_worker_returns() == "lost"
        assert relay_export(job_id, token) == "complete"
    else:
        assert relay_export(job_id, token) == "complete"
        assert old_worker_returns() != "complete"
    job = ExportJob.objects.get(pk=orphan.pk)
    again = export_finalize(
        job=job,
        output_name=job.output_file.name,
        output_size=job.output_size,
        output_duration=job.output_duration,
        extra_files=job.extra_files,
    )

    assert again.status == "complete"
    assert notifications(user) == ["export.completed", "extraction.completed"]
    stored = [key for key in bucket_keys(s3) if f"/exports/{job.pk}/" in key]
    assert sorted(k.split(f"/exports/{job.pk}/")[1] for k in stored) == [
        "annotated.mp4",
        "clips/01-goal.mp4",
        "clips/02-save.mp4",
    ]


def test_reaper_keeps_a_job_while_modal_cannot_be_reached(parked, user, fake_modal, relays):
    fake_modal.unreachable = modal.exception.ConnectionError("Could not connect")

    counts = exports_reap()
    counts_again = exports_reap()

    assert counts["alive"] == counts_again["alive"] == 1
    parked.refresh_from_db()
    assert (parked.status, parked.worker_id) == ("processing", "lost-host:42")
    assert notifications(user) == []
    assert relays == []


def test_reaper_fails_an_unreachable_job_after_the_grace_period(parked, user, fake_modal, settings):
    settings.MODAL_UNKNOWN_GRACE_SECONDS = 600
    stale(parked, seconds=601)
    fake_modal.unreachable = modal.exception.ConnectionError("Could not connect")

    exports_reap()

    parked.refresh_from_db()
    assert parked.status == "error"
    assert parked.error.startswith("GPU render service unreachable for 10 minutes")
    assert "Could not connect" in parked.error_detail
    assert notifications(user) == ["export.failed"]


def test_reaper_fails_a_job_whose_remote_render_failed(parked, user, fake_modal, relays):
    fake_modal.calls["fc-parked"].script = [RemoteRenderError("Source video could not be read")]

    exports_reap()

    parked.refresh_from_db()
    assert (parked.status, parked.error) == ("error", "Source video could not be read")
    assert notifications(user) == ["export.failed"]
    assert relays == []


def test_reaper_cancels_a_job_whose_cancel_was_requested(parked, user, fake_modal):
    ExportJob.objects.filter(pk=parked.pk).update(cancel_requested_at=timezone.now())

    exports_reap()

    parked.refresh_from_db()
    assert parked.status == "cancelled"
    assert fake_modal.cancels == [("fc-parked", True)]
    assert notifications(user) == ["export.cancelled"]


def test_reaper_requeues_a_job_that_never_reached_modal(
    parked, fake_modal, monkeypatch, django_capture_on_commit_callbacks
):
    ExportJob.objects.filter(pk=parked.pk).update(remote_call_id="")
    queued: list[int] = []
    monkeypatch.setattr("exports.backends.modal.enqueue_render", queued.append)

    with django_capture_on_commit_callbacks(execute=True):
        counts = exports_reap()

    parked.refresh_from_db()
    assert (counts["requeued"], parked.status, queued) == (1, "pending", [parked.pk])


def test_relay_rides_out_a_short_outage(user, game, clips, start_job, run_job, hub, fake_modal):
    job = start_job(user, kind="annotate", game_id=game.pk)
    fake_modal.on_spawn = lambda call: None
    fake_modal.script = [
        modal.exception.ConnectionError("Could not connect"),
        modal.exception.ConnectionError("Could not connect"),
        Poll.RUNNING,
        RemoteRenderError("Disk full while rendering clip 1 of 2."),
    ]

    assert run_job(job) == "error"

    assert job.error == "Disk full while rendering clip 1 of 2."


def test_relay_fails_after_the_grace_period_of_an_outage(
    user, game, clips, start_job, run_job, hub, fake_modal, settings
):
    settings.MODAL_UNKNOWN_GRACE_SECONDS = 0
    job = start_job(user, kind="annotate", game_id=game.pk)
    fake_modal.on_spawn = lambda call: None
    fake_modal.script = [modal.exception.ConnectionError("Could not connect")]

    assert run_job(job) == "error"

    assert job.error.startswith("GPU render service unreachable")
    assert (fake_modal.last.object_id, True) in fake_modal.cancels
