"""An export reads its source from S3 and writes its output there; download redirects."""

from __future__ import annotations

import pytest
import requests

from games import services
from videokit.probe import probe_video

pytestmark = pytest.mark.django_db


@pytest.fixture
def quiet_hub(monkeypatch):
    monkeypatch.setattr("notifications.services.publish_job", lambda job: None)
    monkeypatch.setattr("exports.services.publish_job", lambda job: None)


def test_an_export_reads_from_s3_writes_to_s3_and_downloads_by_presigned_url(
    client_user,
    user,
    s3,
    make_game,
    settings,
    tmp_path,
    quiet_hub,
    django_capture_on_commit_callbacks,
):
    from exports.runner import run_job
    from exports.services import export_start

    settings.EXPORT_WORK_DIR = tmp_path / "render"
    game = make_game(user)
    services.clip_create(game=game, start=0.5, end=1.5, name="Goal", rating=5)
    with django_capture_on_commit_callbacks(execute=False):
        job = export_start(user=user, kind="annotate", game_id=game.pk)
    assert run_job(job_id=job.pk, worker="test-host:1") == "complete"
    job.refresh_from_db()

    output_key = s3.key(job.output_file.name)
    assert output_key.startswith(f"rf/u{user.pk}/exports/{job.pk}/")
    assert output_key in s3.object_keys()
    assert not any(p.is_file() for p in settings.EXPORT_WORK_DIR.rglob("*"))

    response = client_user.get(f"/api/exports/{job.pk}/download")
    assert response.status_code == 302
    fetched = requests.get(response["Location"], timeout=30)
    assert fetched.status_code == 200
    assert fetched.headers["Content-Disposition"].startswith("attachment; filename=")
    assert fetched.content == s3.body(job.output_file.name)
    downloaded = tmp_path / "downloaded.mp4"
    downloaded.write_bytes(fetched.content)
    assert probe_video(downloaded).duration == pytest.approx(1.0, abs=0.1)
    assert client_user.get(f"/api/exports/{job.pk}/download").status_code == 302
