"""Each kind end to end: export_start -> the task -> complete, checked by probing the output."""

from __future__ import annotations

import pytest

from exports.models import ExportJob
from notifications.models import Notification
from videokit.probe import probe_video

pytestmark = pytest.mark.django_db


def probe_stored(field_file):
    return probe_video(field_file.path)


def test_annotate_stores_compilation_and_clip_files_and_notifies(
    user, game, clips, start_job, run_job, hub, work_dir
):
    job = start_job(user, kind="annotate", game_id=game.pk)

    assert run_job(job) == "complete"

    info = probe_stored(job.output_file)
    assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    assert (info.width, info.height) == (320, 180)
    assert info.duration == pytest.approx(2.0, abs=2 / 25 + 0.05)
    assert job.output_size == job.output_file.size
    assert [f["name"] for f in job.extra_files] == ["01-goal.mp4", "02-save.mp4"]
    for entry in job.extra_files:
        clip = probe_video(job.output_file.storage.path(entry["file"]))
        assert clip.duration == pytest.approx(1.0, abs=1 / 25 + 0.05)
    kinds = list(
        Notification.objects.filter(user=user, data__job_id=job.pk).values_list("kind", flat=True)
    )
    assert sorted(kinds) == ["export.completed", "export.started", "extraction.completed"]
    assert hub[-1]["status"] == "complete" and hub[-1]["progress"] == 100
    assert not any(work_dir.iterdir())


def test_framing_sets_the_working_video(user, project, start_job, run_job, hub):
    job = start_job(user, kind="framing", project_id=project.pk, options={"scale": 0.25})

    assert run_job(job) == "complete"

    project.refresh_from_db()
    assert project.working_video.name == job.output_file.name
    info = probe_stored(project.working_video)
    assert (info.width, info.height, info.video_codec, info.audio_codec) == (
        270,
        480,
        "h264",
        "aac",
    )
    assert info.duration == pytest.approx(2.0, abs=2 / 25 + 0.05)
    assert Notification.objects.filter(user=user, kind="export.completed").count() == 1


def test_overlay_sets_the_final_video_with_regions_on_the_working_timeline(
    user, project, start_job, run_job, hub
):
    framing = start_job(user, kind="framing", project_id=project.pk, options={"scale": 0.25})
    run_job(framing)
    second = project.project_clips.order_by("position")[1]
    second.highlight_regions = [
        {
            "start": 0.2,
            "end": 0.8,
            "effect": "spotlight",
            "keyframes": [{"t": 0, "x": 540, "y": 960, "rx": 200, "ry": 200}],
        }
    ]
    second.save()
    project.refresh_from_db()

    job = start_job(user, kind="overlay", project_id=project.pk)
    region = job.input_snapshot["regions"][0]
    assert (region["start"], region["end"]) == pytest.approx((1.2, 1.8))
    assert region["keyframes"][0]["x"] == pytest.approx(135)

    assert run_job(job) == "complete"

    project.refresh_from_db()
    assert project.final_video.name == job.output_file.name
    info = probe_stored(project.final_video)
    assert (info.width, info.height) == (270, 480)
    assert info.duration == pytest.approx(framing.output_duration, abs=2 / 25)
    assert ExportJob.objects.filter(status=ExportJob.Status.COMPLETE).count() == 2
