"""Render export jobs from their input snapshot. Django-free: also runs inside Modal.

``render(snapshot, sources=..., workdir=..., progress=...)`` dispatches on
``snapshot["kind"]``; the renderer reports between 5 and 95 % (the engine owns
0–5 for fetching sources and 95–100 for verifying and storing).

Errors: ``RenderError`` (``user_message``; the snapshot cannot be rendered, e.g.
a clip outside the video; ``OutputInvalid`` is its subclass raised by
``verify_output``), ``videokit.ffmpeg.FFmpegError`` (``user_message`` names the
step, e.g. "Disk full while rendering clip 3 of 7.", ``stderr_tail``,
``disk_full``) and ``videokit.ffmpeg.RenderCancelled``. Everything is written
inside ``workdir``; the caller deletes it.
"""

from __future__ import annotations

from pathlib import Path

from exports.renderers.common import (
    OutputInvalid,
    ProgressSink,
    RenderError,
    RenderOutput,
    verify_output,
)

KINDS = ("annotate", "framing", "overlay")


def render(
    snapshot: dict, *, sources: dict[str, Path], workdir: Path, progress: ProgressSink
) -> RenderOutput:
    """Render ``snapshot`` into ``workdir``; ``sources`` maps source keys to local files."""
    kind = snapshot.get("kind")
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    if kind == "annotate":
        from exports.renderers.annotate import render_annotate

        return render_annotate(snapshot, sources=sources, workdir=workdir, progress=progress)
    if kind == "framing":
        from exports.renderers.framing import render_framing

        return render_framing(snapshot, sources=sources, workdir=workdir, progress=progress)
    if kind == "overlay":
        from exports.renderers.overlay import render_overlay

        return render_overlay(snapshot, sources=sources, workdir=workdir, progress=progress)
    raise RenderError(f"Unknown export kind {kind!r}.")


__all__ = [
    "KINDS",
    "OutputInvalid",
    "ProgressSink",
    "RenderError",
    "RenderOutput",
    "render",
    "verify_output",
]
