"""The Modal app definition, inspected locally (nothing is deployed; no account needed)."""

from __future__ import annotations

import inspect

from django.conf import settings
from modal.mount import _Mount

from exports import modal_app


def shipped(module: str, ignore) -> set[str]:
    mount = _Mount._from_local_python_packages(module, ignore=ignore)
    return {str(remote) for entry in mount.entries for _, remote in entry.get_files_to_upload()}


def test_image_ships_the_renderer_its_font_and_videokit_but_no_django_code():
    files = shipped("exports", modal_app.exports_ignore) | shipped(
        "videokit", modal_app.videokit_ignore
    )

    for needed in (
        "/root/exports/remote_render.py",
        "/root/exports/renderers/common.py",
        "/root/exports/renderers/annotate.py",
        "/root/exports/renderers/framing.py",
        "/root/exports/renderers/overlay.py",
        "/root/exports/renderers/fonts/DejaVuSans.ttf",
        "/root/videokit/ffmpeg.py",
        "/root/videokit/probe.py",
    ):
        assert needed in files
    for django_side in ("models.py", "services.py", "runner.py", "backends/modal.py"):
        assert f"/root/exports/{django_side}" not in files
    assert not [f for f in files if "__pycache__" in f]


def test_function_matches_the_settings_and_the_backend_call():
    assert modal_app.app.name == settings.MODAL_APP_NAME
    assert modal_app.FUNCTION_NAME == settings.MODAL_FUNCTION_NAME == "render_remote"
    spec = modal_app.render_remote._spec_
    assert (spec.gpus, spec.cpu) == ("T4", 4.0)
    # The backend spawns (job_id, snapshot, source_urls, output_put_url, extras_put_urls, key).
    params = list(inspect.signature(modal_app.render_remote._raw_f_).parameters)
    assert params == [
        "job_id",
        "snapshot",
        "source_urls",
        "output_put_url",
        "extras_put_urls",
        "progress_key",
    ]
