"""The worker side: progress, heartbeat writes, cancel of a running job, and failures."""

from __future__ import annotations

import errno
import os
import time
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from exports import runner, services
from exports.models import ExportJob
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def notifications_of(job, kind):
    return Notification.objects.filter(kind=kind, data__job_id=job.pk).count()


def group_gone(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def test_progress_rises_to_100_and_the_row_is_written_about_once_a_second(
    user, game, clips, start_job, run_job, hub, monkeypatch
):
    monkeypatch.setenv("FFMPEG_READRATE", "1.5")  # a render of a few seconds on tiny media
    job = start_job(user, kind="annotate", game_id=game.pk)
    hub.clear()

    started = time.monotonic()
    with CaptureQueriesContext(connection) as queries:
        assert run_job(job) == "complete"
    elapsed = time.monotonic() - started

    values = [frame["progress"] for frame in hub]
    assert values == sorted(values)
    assert values[-1] == 100 and hub[-1]["status"] == "complete"
    assert len(set(values)) >= 10
    assert any(frame["stage"] == "fetching" for frame in hub)
    assert any(frame["items"] == {"done": 2, "total": 2} for frame in hub)
    assert any(frame["eta"] for frame in hub)
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].startswith("UPDATE") and "exports_exportjob" in q["sql"]
    ]
    # The claim, the first write, one a second while rendering, the completion.
    assert len(writes) <= elapsed + 3


def test_the_work_folder_names_the_running_ffmpeg_once_per_process(
    user, game, clips, start_job, run_job, monkeypatch, work_dir
):
    """The reaper reads ``ffmpeg.pgid`` to end a killed worker's FFmpeg; it is written
    when an FFmpeg starts, not on every progress frame."""
    job = start_job(user, kind="annotate", game_id=game.pk)
    pid_writes: list[str] = []
    real_write_text = Path.write_text

    def counting_write_text(self, data, *args, **kwargs):
        if self.name == runner.PID_FILE:
            pid_writes.append(data)
        return real_write_text(self, data, *args, **kwargs)

    monkeypatch.setattr(Path, "write_text", counting_write_text)
    recorded: list[tuple[str, int]] = []

    def check_pid_file(progress) -> None:
        if progress.pids:
            (pid_file,) = work_dir.glob(f"job{job.pk}-*/{runner.PID_FILE}")
            recorded.append((pid_file.read_text(), progress.pids[-1]))

    assert run_job(job, progress_listener=check_pid_file) == "complete"

    assert recorded and all(text == str(pid) for text, pid in recorded)
    started = sorted({pid for _, pid in recorded})
    assert sorted(int(text) for text in pid_writes) == started
    assert len(recorded) > len(pid_writes)


def test_cancel_while_running_kills_ffmpeg_group_and_cleans_up(
    user, game, clips, start_job, run_job, hub, monkeypatch, work_dir
):
    monkeypatch.setenv("FFMPEG_READRATE", "1")
    job = start_job(user, kind="annotate", game_id=game.pk)
    seen: dict = {"pids": [], "cancelled": False}

    def cancel_mid_render(progress) -> None:
        seen["pids"] = list(progress.pids)
        if progress.percent > 20 and not seen["cancelled"]:
            seen["cancelled"] = True
            services.export_cancel(job=ExportJob.objects.get(pk=job.pk))

    assert run_job(job, progress_listener=cancel_mid_render) == "cancelled"

    assert job.status == "cancelled" and job.cancel_requested_at and job.completed_at
    assert job.progress < 95
    assert seen["pids"] and all(group_gone(pgid) for pgid in seen["pids"])
    assert list(work_dir.iterdir()) == []
    assert notifications_of(job, "export.cancelled") == 1
    assert notifications_of(job, "export.completed") == 0
    assert hub[-1]["status"] == "cancelled"


def test_corrupt_source_fails_with_a_clear_error(user, game, clips, start_job, run_job, hub,
                                                 work_dir):  # fmt: skip
    job = start_job(user, kind="annotate", game_id=game.pk)
    stored = game.videos.first().file
    path = Path(stored.path)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])

    assert run_job(job) == "error"

    assert job.error.startswith("The source video match.mp4 could not be read")
    assert job.stage == "error" and job.completed_at
    assert notifications_of(job, "export.failed") == 1
    assert list(work_dir.iterdir()) == []


def test_missing_source_at_render_time_fails_clearly(user, game, clips, start_job, run_job, hub):
    job = start_job(user, kind="annotate", game_id=game.pk)
    stored = game.videos.first().file
    stored.storage.delete(stored.name)

    assert run_job(job) == "error"
    assert job.error == "The source video match.mp4 is missing from storage."


def test_disk_full_while_rendering_names_the_clip(user, game, clips, start_job, run_job, hub,
                                                  monkeypatch):  # fmt: skip
    from exports.renderers import common

    real = common.run_ffmpeg

    def write_to_a_full_disk(args, **kwargs):
        if str(args[-1]).endswith("part002.mov"):
            args = [*args[:-1], "/dev/full"]  # every write fails with ENOSPC
        return real(args, **kwargs)

    monkeypatch.setattr(common, "run_ffmpeg", write_to_a_full_disk)
    job = start_job(user, kind="annotate", game_id=game.pk)

    assert run_job(job) == "error"

    assert job.error == "Disk full while rendering clip 2 of 2."
    assert "No space left on device" in job.error_detail
    assert notifications_of(job, "export.failed") == 1


def test_disk_full_while_saving_leaves_no_partial_file(user, game, clips, start_job, run_job, hub,
                                                       monkeypatch, isolated_media):  # fmt: skip
    def full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("exports.storing.os.fsync", full)
    job = start_job(user, kind="annotate", game_id=game.pk)

    assert run_job(job) == "error"

    assert job.error == "Disk full while saving the output."
    assert not job.output_file
    exports_dir = isolated_media / f"u{user.pk}" / "exports"
    assert [p for p in exports_dir.rglob("*") if p.is_file()] == []


def test_a_job_taken_by_another_worker_is_left_alone(user, game, clips, start_job, run_job, hub,
                                                     monkeypatch):  # fmt: skip
    monkeypatch.setenv("FFMPEG_READRATE", "1")
    job = start_job(user, kind="annotate", game_id=game.pk)
    done = {"stolen": False}

    def steal(progress) -> None:
        if progress.percent > 10 and not done["stolen"]:
            done["stolen"] = True
            ExportJob.objects.filter(pk=job.pk).update(worker_id="other:2")

    assert run_job(job, progress_listener=steal) == "lost"
    assert job.status == "processing" and job.worker_id == "other:2"
    assert (
        Notification.objects.filter(data__job_id=job.pk).exclude(kind="export.started").count() == 0
    )


def test_remote_storage_source_is_downloaded_with_progress_and_output_saved(
    user, game, clips, start_job, run_job, hub, monkeypatch, work_dir
):
    # The storage behaves like S3: no local paths, so sources download and outputs upload.
    monkeypatch.setattr("exports.sources.local_path", lambda storage, name: None)
    monkeypatch.setattr("exports.storing.local_target", lambda name: None)
    monkeypatch.setattr("games.storage.CHUNK_BYTES", 16 * 1024)  # many chunks of the tiny source
    job = start_job(user, kind="annotate", game_id=game.pk)

    assert run_job(job) == "complete"

    fetching = sorted({f["progress"] for f in hub if f["stage"] == "fetching"})
    assert len(fetching) >= 4 and 0 < fetching[-2] < 5
    with job.output_file.open("rb") as handle:
        assert handle.read(8)[4:8] == b"ftyp"
    assert list(work_dir.iterdir()) == []
