"""The Modal backend in a worker: dispatch, relay, collect, cancel, and the fallback.

Modal itself is a stand-in (``fake_modal``); everything on our side is real: the
queue task's runner, S3 (moto) with presigned URLs, FFmpeg, and the remote body.
"""

from __future__ import annotations

import modal.exception
import pytest

from exports.models import ExportJob
from exports.remote_render import RemoteRenderError
from exports.services import export_cancel
from notifications.models import Notification
from tests.modal.conftest import Poll, replay
from tests.modal.helpers import SAME_PIXELS, bucket_keys, fetch_stored, mean_pixel_difference
from videokit.probe import probe_video

pytestmark = pytest.mark.django_db

STAGING = "/modal-a"


def notification_kinds(user, job) -> list[str]:
    """How the job ended, as notified (the history-only ``export.started`` left out)."""
    mine = Notification.objects.filter(user=user, data__job_id=job.pk).exclude(
        kind="export.started"
    )
    return sorted(mine.values_list("kind", flat=True))


def targets(kind: str, game, project) -> dict:
    if kind == "annotate":
        return {"game_id": game.pk}
    return {"project_id": project.pk, "options": {"scale": 0.25}}


@pytest.mark.parametrize("kind", ["annotate", "framing"])
def test_modal_job_renders_the_same_video_as_a_local_job(
    kind, settings, user, game, project, start_job, run_job, hub, fake_modal, s3, tmp_path
):
    settings.MODAL_ENABLED = False
    local = start_job(user, kind=kind, **targets(kind, game, project))
    assert local.backend == "local" and run_job(local) == "complete"
    settings.MODAL_ENABLED = True
    remote = start_job(user, kind=kind, **targets(kind, game, project))
    assert remote.backend == "modal"

    assert run_job(remote) == "complete"

    assert fake_modal.lookups == [("reelforge", "render_remote")]
    assert remote.remote_call_id == fake_modal.last.object_id
    # Within 1 %: a threaded FFmpeg encode is not always byte-exact from run to run.
    assert remote.output_size == pytest.approx(local.output_size, rel=0.01)
    assert remote.output_duration == pytest.approx(local.output_duration, abs=1e-3)
    ours = fetch_stored(local.output_file.name, tmp_path / "local.mp4")
    theirs = fetch_stored(remote.output_file.name, tmp_path / "remote.mp4")
    info = probe_video(theirs)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    for seconds in (0.1, 0.9, 1.7):
        assert mean_pixel_difference(ours, theirs, seconds) < SAME_PIXELS
    assert [f["name"] for f in remote.extra_files] == [f["name"] for f in local.extra_files]
    for theirs_extra, ours_extra in zip(remote.extra_files, local.extra_files, strict=True):
        assert theirs_extra["size"] == pytest.approx(ours_extra["size"], rel=0.01)
    # Staging files and the progress entry are gone; one notification per outcome.
    assert not [key for key in bucket_keys(s3) if STAGING in key]
    assert fake_modal.store == {}
    expected = ["export.completed"] + (["extraction.completed"] if kind == "annotate" else [])
    assert notification_kinds(user, remote) == expected
    assert hub[-1]["status"] == "complete" and hub[-1]["progress"] == 100


def test_container_progress_is_relayed_to_the_hub_and_the_job_row(
    user, game, clips, start_job, run_job, hub, fake_modal
):
    job = start_job(user, kind="annotate", game_id=game.pk)
    key = f"reelforge:{job.pk}:1"
    entry = {
        "stage": "rendering",
        "progress": 50.0,
        "items": {"done": 1, "total": 2},
        "message": "Rendering clip 1 of 2",
        "eta": 10,
        "seq": 7,
    }
    rows: list[ExportJob] = []

    def running_until_written(call) -> object:
        fake_modal.store[key] = entry
        row = ExportJob.objects.get(pk=job.pk)
        rows.append(row)
        # Keep running until the worker wrote the relayed progress (its heartbeat write).
        if row.progress == pytest.approx(46.0) or call.polls > 2000:
            return RemoteRenderError("Source video could not be read", "moov atom not found")
        return Poll.RUNNING

    fake_modal.on_spawn = lambda call: None
    fake_modal.script = [running_until_written]

    assert run_job(job) == "error"

    relayed = [f for f in hub if f["stage"] == "rendering"]
    assert relayed and relayed[0]["progress"] == 46.0  # 50 % of the container's run = 46 %
    assert relayed[0]["items"] == {"done": 1, "total": 2}
    assert relayed[0]["message"] == "Rendering clip 1 of 2"
    row = rows[-1]
    assert (row.stage, row.items_done, row.items_total) == ("rendering", 1, 2)
    assert row.heartbeat_at > job.created_at


def test_failed_remote_render_fails_the_job_with_its_error(
    user, game, clips, start_job, run_job, hub, fake_modal
):
    job = start_job(user, kind="annotate", game_id=game.pk)
    fake_modal.on_spawn = lambda call: None
    fake_modal.script = [
        Poll.RUNNING,
        RemoteRenderError("Disk full while rendering clip 2 of 2.", "No space left on device"),
    ]

    assert run_job(job) == "error"

    assert job.error == "Disk full while rendering clip 2 of 2."
    assert "No space left on device" in job.error_detail
    assert notification_kinds(user, job) == ["export.failed"]
    assert hub[-1]["status"] == "error"


def test_modal_timeout_is_a_clear_failure(user, game, clips, start_job, run_job, fake_modal, hub):
    job = start_job(user, kind="annotate", game_id=game.pk)
    fake_modal.on_spawn = lambda call: None
    fake_modal.script = [modal.exception.FunctionTimeoutError("timed out after 10800s")]

    assert run_job(job) == "error"

    assert job.error == "The GPU render took longer than its time limit."


def test_cancel_terminates_the_container_and_cancels_the_job(
    user, game, clips, start_job, run_job, hub, fake_modal, s3
):
    job = start_job(user, kind="annotate", game_id=game.pk)

    def user_cancels(call) -> str:
        export_cancel(job=ExportJob.objects.get(pk=job.pk))  # from the web process
        return Poll.RUNNING

    fake_modal.on_spawn = lambda call: None
    fake_modal.script = [Poll.RUNNING, user_cancels, Poll.RUNNING]

    assert run_job(job) == "cancelled"

    call_id = fake_modal.last.object_id
    assert (call_id, True) in fake_modal.cancels  # FunctionCall.cancel(terminate_containers=True)
    assert notification_kinds(user, job) == ["export.cancelled"]
    assert hub[-1]["status"] == "cancelled"
    assert not [key for key in bucket_keys(s3) if STAGING in key]


def test_modal_unreachable_at_dispatch_fails_with_a_clear_error(
    user, game, clips, start_job, run_job, hub, fake_modal
):
    fake_modal.on_spawn = modal.exception.ConnectionError("Could not connect to the Modal server")
    job = start_job(user, kind="annotate", game_id=game.pk)

    assert run_job(job) == "error"

    assert job.error.startswith("GPU render service unreachable")
    assert "Could not connect to the Modal server" in job.error_detail
    assert job.remote_call_id == ""
    assert notification_kinds(user, job) == ["export.failed"]


def test_function_not_deployed_says_so(user, game, clips, start_job, run_job, hub, fake_modal):
    fake_modal.on_spawn = modal.exception.NotFoundError("App 'reelforge' not found")
    job = start_job(user, kind="annotate", game_id=game.pk)

    assert run_job(job) == "error"

    assert job.error == (
        "GPU render service unreachable (the render function is not deployed; see docs/modal.md)."
    )


def test_modal_unreachable_falls_back_to_a_local_render_when_enabled(
    settings, user, game, project, start_job, run_job, hub, fake_modal
):
    settings.MODAL_FALLBACK_LOCAL = True
    fake_modal.on_spawn = modal.exception.ConnectionError("Could not connect to the Modal server")
    job = start_job(user, kind="framing", project_id=project.pk, options={"scale": 0.25})

    assert run_job(job) == "complete"

    assert job.backend == "local"
    assert job.output_duration == pytest.approx(2.0, abs=2 / 25 + 0.05)
    assert notification_kinds(user, job) == ["export.completed"]
    assert any("rendering here" in f["message"] for f in hub)


def test_local_storage_cannot_reach_modal(settings, user, make_game, start_job, run_job, hub):
    """Without S3 the container has no way to the files: a clear error before any spawn."""
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    }
    settings.MODAL_ENABLED = True
    game = make_game(user)
    from games import services

    services.clip_create(game=game, start=0.5, end=1.5, name="Goal", rating=5)
    job = start_job(user, kind="annotate", game_id=game.pk)

    assert run_job(job) == "error"

    assert job.error.startswith("GPU renders need S3-compatible storage")


def test_relayed_replay_of_real_progress_entries(
    user, game, clips, start_job, run_job, hub, fake_modal
):
    """The entries a real remote run wrote, replayed while the call runs, reach the hub."""
    job = start_job(user, kind="annotate", game_id=game.pk)
    written: list[dict] = []

    class Recording(dict):
        def __setitem__(self, key, value) -> None:
            written.append(value)

    key = f"reelforge:{job.pk}:1"

    def render_then_replay(call) -> None:
        from tests.modal.conftest import run_remote

        call.result = run_remote(call.args, Recording())
        call.script = [replay(list(written), fake_modal.store, key)] * len(written) + ["done"]

    fake_modal.on_spawn = render_then_replay

    assert run_job(job) == "complete"

    stages = [f["stage"] for f in hub]
    for stage in ("fetching", "rendering", "joining", "extracting", "uploading", "downloading"):
        assert stage in stages
    percents = [f["progress"] for f in hub if f["status"] == "processing"]
    assert percents == sorted(percents)
    assert notification_kinds(user, job) == ["export.completed", "extraction.completed"]


def test_overlay_on_modal_reads_the_working_video_and_sets_the_final_video(
    settings, user, project, start_job, run_job, hub, fake_modal, tmp_path
):
    settings.MODAL_ENABLED = False
    framing = start_job(user, kind="framing", project_id=project.pk, options={"scale": 0.25})
    assert run_job(framing) == "complete"
    second = project.project_clips.order_by("position")[1]
    second.highlight_regions = [
        {
            "start": 0.2,
            "end": 0.8,
            "effect": "highlight",
            "keyframes": [{"t": 0, "x": 540, "y": 960, "rx": 200, "ry": 200}],
        }
    ]
    second.save()
    settings.MODAL_ENABLED = True
    job = start_job(user, kind="overlay", project_id=project.pk)

    assert run_job(job) == "complete"

    [call] = fake_modal.calls.values()
    assert list(call.args[2]) == ["working"]  # the source URLs: the working video only
    project.refresh_from_db()
    assert project.final_video.name == job.output_file.name
    info = probe_video(fetch_stored(job.output_file.name, tmp_path / "final.mp4"))
    assert (info.width, info.height) == (270, 480)
    assert info.duration == pytest.approx(framing.output_duration, abs=2 / 25)


def test_a_call_ended_by_a_cancel_is_a_cancelled_job_not_a_failure(
    user, game, clips, start_job, run_job, hub, fake_modal
):
    job = start_job(user, kind="annotate", game_id=game.pk)

    def cancelled_at_once(call) -> BaseException:
        export_cancel(job=ExportJob.objects.get(pk=job.pk))
        return modal.exception.InputCancellation("Input was cancelled by the user")

    fake_modal.on_spawn = lambda call: None
    fake_modal.script = [cancelled_at_once]

    assert run_job(job) == "cancelled"

    assert job.error == ""
    assert notification_kinds(user, job) == ["export.cancelled"]
