"""Tiny generated media shared by the whole suite (made once per test run)."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings


def media_cache_dir() -> Path:
    folder = settings.TEST_VAR_DIR.parent / "media-cache"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def cached_video(name: str, **kwargs) -> Path:
    """A generated video, cached across test runs by its parameters."""
    from videokit.testmedia import make_video

    key = "-".join(f"{k}{v}" for k, v in sorted(kwargs.items()))
    path = media_cache_dir() / f"{name}-{key}.mp4"
    if not path.exists():
        tmp = path.with_suffix(".partial.mp4")
        make_video(tmp, **kwargs)
        tmp.rename(path)
    return path
