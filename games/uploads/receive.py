"""Bodies received through the app, and the checks every upload ends with.

A body is streamed in chunks to a temporary file (hashed and counted on the way); then
``video_conclude`` decides the video: the owner's twin file is shared (dedup by SHA-256),
or the probe passes and the bytes are kept, or they are removed and the video is invalid.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File

from config.errors import ApiError
from games import storage
from games.models import Game, GameVideo
from notifications.services import notify

CHUNK_BYTES = 1024 * 1024


@dataclass(frozen=True)
class Received:
    """A body written to a local temporary file, with what was learnt while writing it."""

    path: Path
    size: int
    sha256: str


def human_bytes(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if n < 1024 or unit == "TB":
            return f"{n:g} {unit}" if unit == "bytes" else f"{n:.1f} {unit}".replace(".0 ", " ")
        n /= 1024
    return str(n)


def too_large(max_bytes: int) -> ApiError:
    return ApiError(
        413, "too_large", f"The file is larger than the upload limit of {human_bytes(max_bytes)}."
    )


def incoming_dir() -> Path:
    """Where bodies received through the app are written while they arrive."""
    folder = Path(settings.UPLOAD_TEMP_DIR or Path(settings.MEDIA_ROOT) / ".incoming")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def receive_stream(
    *, read: Callable[[int], bytes], length: int | None, max_bytes: int | None = None
) -> Received:
    """Write a body to a temporary file chunk by chunk, hashing and counting as it goes.

    ``length`` is the announced size (Content-Length) or None to read until EOF. Past
    ``max_bytes`` (UPLOAD_MAX_BYTES) it stops with 413; a body shorter than announced is a
    400. On any error the temporary file is gone.
    """
    limit = max_bytes or settings.UPLOAD_MAX_BYTES
    if length is not None and length > limit:
        raise too_large(limit)
    fd, tmp_name = tempfile.mkstemp(dir=incoming_dir(), prefix="upload-", suffix=".part")
    digest, size = hashlib.sha256(), 0
    try:
        with os.fdopen(fd, "wb") as out:
            while True:
                want = CHUNK_BYTES if length is None else min(CHUNK_BYTES, length - size)
                if want <= 0:
                    break
                chunk = read(want)
                if not chunk:
                    break
                size += len(chunk)
                if size > limit:
                    raise too_large(limit)
                digest.update(chunk)
                out.write(chunk)
        if length is not None and size < length:
            raise ApiError(
                400,
                "incomplete_body",
                f"The upload stopped after {size} of {length} bytes; nothing was kept.",
            )
        if size == 0:
            raise ApiError(422, "empty_file", "The file is empty.")
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return Received(path=Path(tmp_name), size=size, sha256=digest.hexdigest())


class _ReceivedFile(File):
    """A local temporary file that FileSystemStorage may move into place instead of copying."""

    def __init__(self, path: Path):
        super().__init__(open(path, "rb"), name=path.name)  # noqa: SIM115 (closed by File)
        self._path = path

    def temporary_file_path(self) -> str:
        return str(self._path)


def _twin(video: GameVideo, sha256: str) -> GameVideo | None:
    """A ready video of the same owner with the same bytes, whose file we can share."""
    return (
        GameVideo.objects.filter(
            game__owner_id=video.game.owner_id, sha256=sha256, status=GameVideo.Status.READY
        )
        .exclude(file="")
        .exclude(pk=video.pk)
        .order_by("id")
        .first()
    )


PROBED_FIELDS = (
    "duration",
    "fps",
    "width",
    "height",
    "video_codec",
    "audio_codec",
    "has_audio",
    "rotation",
    "size",
)


def file_in_use_elsewhere(name: str, *, exclude_pk: int | None) -> bool:
    """True when another video row points at this stored file (deduplicated uploads)."""
    return GameVideo.objects.filter(file=name).exclude(pk=exclude_pk).exists()


def delete_stored(video: GameVideo) -> None:
    name = video.file.name
    if name and not file_in_use_elsewhere(name, exclude_pk=video.pk):
        video.file.storage.delete(name)
    video.file.name = ""


def video_conclude(*, video: GameVideo, received: Received, stored: bool) -> GameVideo:
    """Decide a video from its bytes in ``received``: share a twin, or probe and keep, or reject.

    ``stored`` says the bytes are already in storage at ``video.file`` (a direct upload);
    otherwise they are moved or streamed there only once the probe passed, so a rejected
    file never reaches storage. The temporary file is removed on every path.
    """
    from videokit.probe import ProbeError, probe_video

    try:
        video.sha256 = received.sha256
        twin = _twin(video, received.sha256)
        if twin is not None:
            if stored:
                delete_stored(video)
            video.file.name = twin.file.name
            for field in PROBED_FIELDS:
                setattr(video, field, getattr(twin, field))
            video.status, video.error = GameVideo.Status.READY, ""
        else:
            try:
                info = probe_video(received.path)
            except ProbeError as exc:
                if stored:
                    delete_stored(video)
                video.status, video.error = GameVideo.Status.INVALID, str(exc)
            else:
                if not stored:
                    with _ReceivedFile(received.path) as content:
                        video.file.save(safe_name(video.original_name), content, save=False)
                video.apply_probe(info)
                video.status, video.error = GameVideo.Status.READY, ""
        video.upload_id = ""
        video.save()
    finally:
        received.path.unlink(missing_ok=True)
    video.game.refresh_status()
    notify_result(video)
    return video


def notify_result(video: GameVideo) -> None:
    game = video.game
    common = {
        "user": game.owner,
        "data": {"game_id": game.pk, "video_id": video.pk},
        "actions": [{"label": "Open game", "url": f"/games/{game.pk}/"}],
    }
    label = video.original_name or "The video"
    if video.status == GameVideo.Status.READY:
        notify(
            kind="upload.completed",
            title=f"{game.title} is ready",
            message=f"{label} was uploaded and checked.",
            level="success",
            event_key=f"upload:{video.pk}:completed",
            **common,
        )
    else:
        notify(
            kind="upload.failed",
            title=f"Upload failed: {game.title}",
            message=f"{label}: {video.error}",
            level="error",
            event_key=f"upload:{video.pk}:failed",
            **common,
        )


def safe_name(name: str) -> str:
    base = Path(name.replace("\\", "/")).name.strip() or "video.mp4"
    return storage.default_storage().get_valid_name(base)[:120]


def video_receive(*, game: Game, name: str, received: Received) -> GameVideo:
    """Make a received file the next video of ``game`` (checked before it counts)."""
    video = GameVideo.objects.create(
        game=game,
        position=game.videos.count(),
        original_name=Path(name.replace("\\", "/")).name[:255] or "video.mp4",
        status=GameVideo.Status.PROCESSING,
        expected_size=received.size,
    )
    try:
        return video_conclude(video=video, received=received, stored=False)
    except BaseException:
        # Storing failed (disk full, storage down): leave no half-made video behind.
        received.path.unlink(missing_ok=True)
        video.delete()
        game.refresh_status()
        raise
