"""Stage "fetching" (0–5 %): a local, readable file for every source of a snapshot.

Files of a storage with local paths (FileSystemStorage) are used in place. Others
(S3, R2) are downloaded into the job's work folder, reporting bytes copied over
the size, so the bar moves while a large source downloads; the folder is removed
with the job however it ends. (``games.storage.local_copy`` downloads into its
own temporary file and reports nothing, so the engine does not use it here.)
Every source is probed: a damaged file fails the job before FFmpeg runs.
"""

from __future__ import annotations

from pathlib import Path

from django.core.files.storage import default_storage

from exports.progress import JobProgress
from exports.snapshots import snapshot_files
from games.storage import copy_to, local_path
from videokit.probe import ProbeError, probe_video

FETCH_SPAN = (0.0, 5.0)


class SourceMissing(Exception):
    """A source file is not in storage any more; ``str()`` is for the user."""


def download(name: str, target: Path, on_bytes) -> Path:
    """Stream a stored file to ``target``, calling ``on_bytes(copied)`` as chunks arrive."""
    with open(target, "wb") as dst:
        copy_to(default_storage, name, dst, progress=lambda done, _total: on_bytes(done))
    return target


def fetch_sources(snapshot: dict, *, workdir: Path, progress: JobProgress) -> dict[str, Path]:
    """Key -> local path of every file the snapshot reads, each probed."""
    files = snapshot_files(snapshot)
    count = len(files)
    lo, hi = FETCH_SPAN
    step = (hi - lo) / max(count, 1)
    paths: dict[str, Path] = {}
    folder = workdir / "sources"
    for n, (key, name) in enumerate(files.items()):
        label = Path(name).name
        progress.stage(
            "fetching",
            message=f"Fetching {label}" if count == 1 else f"Fetching source {n + 1} of {count}",
            start=lo + n * step,
            end=lo + (n + 1) * step,
            item=n + 1 if count > 1 else None,
            items=count if count > 1 else None,
        )
        if not default_storage.exists(name):
            raise SourceMissing(f"The source video {label} is missing from storage.")
        path = local_path(default_storage, name)
        if path is None:
            folder.mkdir(parents=True, exist_ok=True)
            size = max(default_storage.size(name), 1)
            path = download(
                name,
                folder / f"{key}{Path(name).suffix}",
                lambda c, s=size: progress.fraction(c / s),
            )
        if progress.cancel_requested():
            from videokit.ffmpeg import RenderCancelled

            raise RenderCancelled()
        try:
            probe_video(path)
        except ProbeError as exc:
            raise ProbeError(f"The source video {label} could not be read: {exc}") from exc
        progress.fraction(1.0)
        paths[key] = path
    return paths
