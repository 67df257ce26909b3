"""export_start / cancel / retry / claim / finalize: validation, idempotency, caps, races."""

from __future__ import annotations

import threading

import pytest
from django.db import connection

from config.errors import ApiError
from exports import services
from exports.models import ExportJob, IllegalTransition
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def error_of(call) -> ApiError:
    with pytest.raises(ApiError) as info:
        call()
    return info.value


def assert_nothing_created():
    assert not ExportJob.objects.exists()


def test_unknown_kind_is_refused(user, game, start_job):
    err = error_of(lambda: start_job(user, kind="gif", game_id=game.pk))
    assert (err.status, err.code, list(err.fields)) == (422, "invalid", ["kind"])
    assert_nothing_created()


def test_game_without_clips_is_refused(user, game, start_job):
    err = error_of(lambda: start_job(user, kind="annotate", game_id=game.pk))
    assert (err.status, err.code) == (422, "no_clips")
    assert_nothing_created()


def test_clip_past_the_end_of_the_game_is_refused(user, game, clips, start_job):
    type(clips[0]).objects.filter(pk=clips[0].pk).update(end=9.0)  # bypasses the clip's checks
    err = error_of(lambda: start_job(user, kind="annotate", game_id=game.pk))
    assert (err.status, err.code) == (422, "clip_out_of_range")
    assert "outside the game" in err.message
    assert_nothing_created()


def test_empty_project_is_refused(user, project, start_job):
    project.project_clips.all().delete()
    err = error_of(lambda: start_job(user, kind="framing", project_id=project.pk))
    assert (err.status, err.code) == (422, "empty_project")
    assert_nothing_created()


def test_keyframe_outside_the_frame_is_refused(user, project, start_job):
    pc = project.project_clips.first()
    type(pc).objects.filter(pk=pc.pk).update(
        crop_keyframes=[{"t": 0, "x": 250, "y": 0, "w": 101.25, "h": 180}]
    )
    err = error_of(lambda: start_job(user, kind="framing", project_id=project.pk))
    assert err.status == 422
    assert "inside the 320x180 frame" in " ".join(err.fields["clips.0.crop_keyframes"])
    assert_nothing_created()


def test_bad_scale_and_unknown_options_are_refused(user, project, start_job):
    err = error_of(
        lambda: start_job(user, kind="framing", project_id=project.pk, options={"scale": 3})
    )
    assert list(err.fields) == ["options.scale"]
    err = error_of(
        lambda: start_job(user, kind="framing", project_id=project.pk, options={"speed": 2})
    )
    assert list(err.fields) == ["options.speed"]
    assert_nothing_created()


def test_another_users_project_is_not_found(other_user, project, start_job):
    err = error_of(lambda: _not_found(start_job, other_user, project))
    assert err.status == 404


def _not_found(start_job, user, project):
    from django.http import Http404

    try:
        start_job(user, kind="framing", project_id=project.pk)
    except Http404 as exc:
        raise ApiError(404, "not_found", "Not found.") from exc


def test_overlay_without_a_working_video_is_a_conflict(user, project, start_job):
    err = error_of(lambda: start_job(user, kind="overlay", project_id=project.pk))
    assert (err.status, err.code) == (409, "no_working_video")
    assert_nothing_created()


def test_missing_source_file_is_refused(user, game, clips, start_job):
    video = game.videos.first()
    video.file.storage.delete(video.file.name)
    err = error_of(lambda: start_job(user, kind="annotate", game_id=game.pk))
    assert (err.status, err.code) == (409, "source_missing")
    assert_nothing_created()


def test_same_idempotency_key_returns_the_same_job(user, game, clips, start_job):
    first = start_job(user, kind="annotate", game_id=game.pk, idempotency_key="k-1")
    again = start_job(user, kind="annotate", game_id=game.pk, idempotency_key="k-1")
    other = start_job(user, kind="annotate", game_id=game.pk, idempotency_key="k-2")
    assert again.pk == first.pk != other.pk
    assert ExportJob.objects.count() == 2


def test_too_many_active_jobs_is_429(user, game, clips, start_job, settings):
    settings.EXPORT_MAX_ACTIVE_PER_USER = 2
    start_job(user, kind="annotate", game_id=game.pk)
    start_job(user, kind="annotate", game_id=game.pk)
    err = error_of(lambda: start_job(user, kind="annotate", game_id=game.pk))
    assert (err.status, err.code) == (429, "too_many_exports")
    assert ExportJob.objects.count() == 2


def test_start_queues_the_render_after_commit(user, game, clips, django_capture_on_commit_callbacks,
                                              monkeypatch):  # fmt: skip
    queued = []
    monkeypatch.setattr("exports.backends.local.enqueue_render", queued.append)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        job = services.export_start(user=user, kind="annotate", game_id=game.pk)
        assert queued == []
    for callback in callbacks:
        callback()
    assert queued == [job.pk]
    assert job.input_snapshot["clips"][0]["name"] == "Goal"


def test_cancel_pending_job_never_starts(user, game, clips, start_job, run_job):
    job = start_job(user, kind="annotate", game_id=game.pk)
    services.export_cancel(job=job)
    assert job.status == "cancelled"

    assert run_job(job) == "skipped"
    assert job.status == "cancelled" and job.attempts == 0
    assert Notification.objects.filter(kind="export.cancelled", data__job_id=job.pk).count() == 1


def test_cancel_of_a_finished_job_is_a_conflict(user, game, clips, start_job, run_job):
    job = start_job(user, kind="annotate", game_id=game.pk)
    ExportJob.objects.filter(pk=job.pk).update(status="complete")
    job.refresh_from_db()
    assert error_of(lambda: services.export_cancel(job=job)).code == "already_finished"


def test_claim_is_won_by_exactly_one_worker(user, game, clips, start_job):
    job = start_job(user, kind="annotate", game_id=game.pk)
    wins = [services.export_claim(job_id=job.pk, worker_id=f"w:{n}") for n in range(2)]
    assert [w is not None for w in wins] == [True, False]
    job.refresh_from_db()
    assert (job.status, job.worker_id, job.attempts) == ("processing", "w:0", 1)


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_for_a_job_one_wins(user, game, clips):
    job = services.export_start(user=user, kind="annotate", game_id=game.pk)
    barrier = threading.Barrier(2)
    results: list[bool] = []

    def claim(n: int) -> None:
        barrier.wait()
        try:
            results.append(services.export_claim(job_id=job.pk, worker_id=f"w:{n}") is not None)
        finally:
            connection.close()

    threads = [threading.Thread(target=claim, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == [False, True]
    assert ExportJob.objects.get(pk=job.pk).attempts == 1


def test_illegal_transitions_are_refused(user, game, clips, start_job):
    job = start_job(user, kind="annotate", game_id=game.pk)
    with pytest.raises(IllegalTransition):
        job.transition(ExportJob.Status.COMPLETE)
    job.status = ExportJob.Status.COMPLETE
    with pytest.raises(IllegalTransition):
        job.transition(ExportJob.Status.PROCESSING)


def test_finalize_twice_records_one_completion(user, game, clips, start_job, hub):
    job = start_job(user, kind="annotate", game_id=game.pk)
    job = services.export_claim(job_id=job.pk, worker_id="w:1")
    for _ in range(2):
        services.export_finalize(
            job=ExportJob.objects.get(pk=job.pk),
            output_name="u1/exports/1/annotated.mp4",
            output_size=10,
            output_duration=2.0,
        )
    assert ExportJob.objects.get(pk=job.pk).status == "complete"
    assert Notification.objects.filter(kind="export.completed", data__job_id=job.pk).count() == 1


def test_retry_makes_a_new_job_for_a_failed_one(user, game, clips, start_job, hub):
    job = start_job(user, kind="annotate", game_id=game.pk)
    job = services.export_claim(job_id=job.pk, worker_id="w:1")
    services.export_fail(job=job, error="Boom.", detail="trace")
    with_retry = services.export_retry(job=job, user=user)
    assert with_retry.pk != job.pk and with_retry.retry_of_id == job.pk
    assert with_retry.status == "pending"
    assert error_of(lambda: services.export_retry(job=with_retry, user=user)).code == (
        "not_retryable"
    )
    assert Notification.objects.filter(kind="export.failed", data__job_id=job.pk).count() == 1


def test_start_records_one_already_read_started_notification(user, game, clips):
    from exports.services import export_start

    job = export_start(user=user, kind="annotate", game_id=game.pk, idempotency_key="k1")
    export_start(user=user, kind="annotate", game_id=game.pk, idempotency_key="k1")
    started = Notification.objects.get(kind="export.started", data__job_id=job.pk)
    assert started.read_at is not None and started.seen_at is not None
    assert not Notification.objects.filter(
        user=user, read_at__isnull=True, kind__startswith="export"
    )
