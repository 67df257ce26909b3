"""The Modal app that renders exports in a GPU container (``modal deploy exports/modal_app.py``).

The container runs the project's own renderer (``exports.renderers``) and
``videokit``, shipped from this checkout, with the same pinned FFmpeg build
(imageio-ffmpeg), PyAV and ffmpeg-python as the workers, so a job renders to the
same bytes here and there. The function body is ``exports.remote_render.run_render_job``,
a plain function the tests run locally; see docs/modal.md for deploying and
``exports.backends.modal`` for the worker side.

Modal's own retries are off (``retries=0``): a failed render is reported to the
worker, and the engine's reaper alone decides whether a job runs again.

Deploy-time knobs (read when ``modal deploy`` imports this file):

- ``MODAL_APP_NAME``: the app's name (default ``reelforge``; must match the setting);
- ``MODAL_GPU``: the GPU type (default ``T4``; empty for none);
- ``MODAL_CPU``: cores (default 4; libx264 encodes on the CPU);
- ``RENDER_TIMEOUT``: seconds a render may take (default 3 hours, like the workers).
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

import modal

from exports.remote_render import PROGRESS_DICT_NAME, run_render_job

APP_NAME = os.environ.get("MODAL_APP_NAME", "reelforge")
FUNCTION_NAME = "render_remote"
GPU = os.environ.get("MODAL_GPU", "T4").strip() or None
CPU = float(os.environ.get("MODAL_CPU", "4"))
TIMEOUT = int(os.environ.get("RENDER_TIMEOUT", str(3 * 3600)))

# The same versions as requirements.lock: identical FFmpeg build and graph code.
PACKAGES = ("av==18.1.0", "ffmpeg-python==0.2.0", "imageio-ffmpeg==0.8.1")
# Of the exports package only the Django-free parts travel (no models, no settings).
SHIPPED_EXPORTS = ("__init__.py", "remote_render.py", "modal_app.py", "renderers/")


def exports_ignore(path: Path) -> bool:
    """True for files of ``exports/`` the container does not get (``path`` is relative)."""
    posix = PurePosixPath(path.as_posix())
    if "__pycache__" in posix.parts or posix.suffix == ".pyc":
        return True
    text = posix.as_posix()
    if text == "renderers":
        return False  # the directory itself, so the walk descends into it
    return not any(text == keep or text.startswith(keep) for keep in SHIPPED_EXPORTS)


def videokit_ignore(path: Path) -> bool:
    posix = PurePosixPath(path.as_posix())
    return "__pycache__" in posix.parts or posix.suffix != ".py"


image = (
    modal.Image.debian_slim(python_version="3.11")
    .pip_install(*PACKAGES)
    .env({"PYTHONUNBUFFERED": "1"})
    .add_local_python_source("videokit", ignore=videokit_ignore)
    .add_local_python_source("exports", ignore=exports_ignore)
)

app = modal.App(APP_NAME, image=image)


@app.function(gpu=GPU, cpu=CPU, timeout=TIMEOUT, retries=0, single_use_containers=True)
def render_remote(
    job_id: int,
    snapshot: dict,
    source_urls: dict[str, str],
    output_put_url: str,
    extras_put_urls: list[str],
    progress_key: str = "",
) -> dict:
    """Render one export job: sources in and output out through presigned URLs.

    One container per render (``single_use_containers``): cancelling a job terminates
    its container, and nothing of one user's job lingers for the next one.
    """
    progress = modal.Dict.from_name(PROGRESS_DICT_NAME, create_if_missing=True)
    return run_render_job(
        job_id=job_id,
        snapshot=snapshot,
        source_urls=source_urls,
        output_put_url=output_put_url,
        extras_put_urls=extras_put_urls,
        progress_store=progress,
        progress_key=progress_key,
    )
