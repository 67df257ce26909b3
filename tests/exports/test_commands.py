"""export_status, reap_exports and render_export."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

pytestmark = pytest.mark.django_db


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


def test_render_export_runs_a_pending_job_with_a_progress_bar(user, game, clips, start_job, hub):
    job = start_job(user, kind="annotate", game_id=game.pk)
    output = run("render_export", str(job.pk))
    job.refresh_from_db()
    assert job.status == "complete"
    assert "[" + "#" * 30 + "] 100.0%" in output
    assert f"Export {job.pk} complete" in output
    with pytest.raises(CommandError, match="only a pending job"):
        run("render_export", str(job.pk))


def test_export_status_shows_a_table(user, game, clips, start_job):
    job = start_job(user, kind="annotate", game_id=game.pk)
    output = run("export_status", "--active")
    header, row = output.splitlines()[:2]
    assert header.split()[:3] == ["ID", "KIND", "STATUS"]
    assert row.split()[:3] == [str(job.pk), "annotate", "pending"]


def test_reap_exports_reports_counts():
    assert "requeued: 0" in run("reap_exports")
