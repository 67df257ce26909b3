"""Fixtures for the export engine: a project on the test game, inline job runs, hub capture."""

from __future__ import annotations

import pytest

from exports.frames import job_frame


@pytest.fixture(autouse=True)
def work_dir(settings, tmp_path):
    """Each test renders in its own work folder (so "no temporary files left" is checkable)."""
    settings.EXPORT_WORK_DIR = tmp_path / "render"
    return settings.EXPORT_WORK_DIR


@pytest.fixture
def hub(monkeypatch):
    """Every job frame the engine offers to the hub, in order (instead of pushing them)."""
    frames: list[dict] = []

    def record(job) -> None:
        frames.append(job_frame(job))

    monkeypatch.setattr("notifications.services.publish_job", record)
    monkeypatch.setattr("exports.services.publish_job", record)
    return frames


@pytest.fixture
def clips(game):
    from games import services

    return [
        services.clip_create(game=game, start=0.5, end=1.5, name="Goal", rating=5, notes="Top"),
        services.clip_create(game=game, start=2.0, end=3.0, name="Save", rating=2),
    ]


@pytest.fixture
def project(user, game, clips):
    from games import services

    return services.project_create(
        owner=user,
        game=game,
        name="Reel",
        aspect="9:16",
        fps=25,
        clips=[{"clip_id": clips[0].pk}, {"clip_id": clips[1].pk, "transition": "cut"}],
    )


@pytest.fixture
def start_job(django_capture_on_commit_callbacks):
    """export_start without queueing (the test runs the task itself)."""
    from exports.services import export_start

    def _start(user, **kwargs):
        with django_capture_on_commit_callbacks(execute=False):
            return export_start(user=user, **kwargs)

    return _start


@pytest.fixture
def run_job():
    from exports.runner import run_job as run

    def _run(job, **kwargs):
        status = run(job_id=job.pk, worker="test-host:1", **kwargs)
        job.refresh_from_db()
        return status

    return _run
