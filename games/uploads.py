"""Uploads of game videos, and the checks before a video is ready.

Two ways in (docs/storage.md):

* **Through the app**: the body is streamed in chunks to a temporary file (hashed and
  counted as it arrives, never held in memory), checked, then moved (local storage) or
  streamed (S3) into storage. See ``receive_stream`` and ``video_conclude``.
* **Direct to the bucket** (S3 storage only): ``upload_start`` hands out a presigned PUT
  URL, or for big files a multipart upload whose parts are signed on demand
  (``upload_sign_parts``) and can be listed to resume (``upload_parts``);
  ``upload_complete`` checks the object and makes the video ready.

Either way a file that is not a usable video is removed and its video marked invalid with
the reason, and a file its owner already stored (same SHA-256) is kept once: the new video
points at the existing file.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from config.errors import ApiError
from games import storage
from games.models import Game, GameVideo, game_video_upload_to
from notifications.services import notify

CHUNK_BYTES = 1024 * 1024
S3_MIN_PART = 5 * 1024 * 1024
S3_MAX_PARTS = 10_000
MAX_PARTS_PER_REQUEST = 1000
CONTENT_TYPE_RE = re.compile(r"^[\w.+-]+/[\w.+-]+$")


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


def _delete_stored(video: GameVideo) -> None:
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
                _delete_stored(video)
            video.file.name = twin.file.name
            for field in PROBED_FIELDS:
                setattr(video, field, getattr(twin, field))
            video.status, video.error = GameVideo.Status.READY, ""
        else:
            try:
                info = probe_video(received.path)
            except ProbeError as exc:
                if stored:
                    _delete_stored(video)
                video.status, video.error = GameVideo.Status.INVALID, str(exc)
            else:
                if not stored:
                    with _ReceivedFile(received.path) as content:
                        video.file.save(_safe_name(video.original_name), content, save=False)
                video.apply_probe(info)
                video.status, video.error = GameVideo.Status.READY, ""
        video.upload_id = ""
        video.save()
    finally:
        received.path.unlink(missing_ok=True)
    video.game.refresh_status()
    _notify_result(video)
    return video


def _notify_result(video: GameVideo) -> None:
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


def _safe_name(name: str) -> str:
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


# --- Direct uploads (S3 storage) -------------------------------------------------------


def upload_config() -> dict:
    """What the upload page needs to pick a mode (``GET /api/uploads/config``)."""
    return {
        "direct": storage.is_s3(),
        "multipart_threshold": settings.UPLOAD_MULTIPART_THRESHOLD,
        "part_size": settings.UPLOAD_PART_SIZE,
        "max_bytes": settings.UPLOAD_MAX_BYTES,
    }


@contextlib.contextmanager
def storage_errors() -> Iterator[None]:
    """Turn a failing bucket (down, wrong keys, missing bucket) into one clear 502."""
    from botocore.exceptions import BotoCoreError, ClientError

    try:
        yield
    except (BotoCoreError, ClientError) as exc:
        raise ApiError(
            502, "storage_unavailable", "The file storage did not answer; try again shortly."
        ) from exc


def _s3_code(exc: Exception) -> str:
    return getattr(exc, "response", {}).get("Error", {}).get("Code", "")


def part_size_for(size: int) -> int:
    """UPLOAD_PART_SIZE, raised (in whole MiB) when the file would need over 10,000 parts."""
    part = max(settings.UPLOAD_PART_SIZE, S3_MIN_PART)
    if math.ceil(size / part) > S3_MAX_PARTS:
        mib = 1024 * 1024
        part = math.ceil(size / S3_MAX_PARTS / mib) * mib
    return part


def part_count(video: GameVideo) -> int:
    return max(1, math.ceil((video.expected_size or 0) / (video.part_size or 1)))


def _expected_part_size(video: GameVideo, number: int) -> int:
    count = part_count(video)
    if number < count:
        return video.part_size
    return video.expected_size - (count - 1) * video.part_size


def upload_start(
    *, owner, game: Game, name: str, size: int, content_type: str = ""
) -> tuple[GameVideo, dict]:
    """Begin a direct upload to the bucket: a presigned PUT, or a multipart upload.

    The object key is ``u{owner}/games/{game}/v{video}-{name}``; the video stays
    ``uploading`` (and the game with it) until ``upload_complete`` checks the object.
    """
    if not storage.is_s3():
        raise ApiError(
            409,
            "direct_uploads_off",
            "Direct uploads need S3 storage; send the file to PUT /api/games/{id}/upload.",
        )
    fields: dict[str, list[str]] = {}
    name = Path((name or "").replace("\\", "/")).name.strip()
    if not name:
        fields["name"] = ["The file needs a name."]
    if size < 1:
        fields["size"] = ["The file is empty."]
    if content_type and not CONTENT_TYPE_RE.match(content_type):
        fields["content_type"] = ["Not a media type."]
    if fields:
        raise ApiError(422, "invalid", "Some fields are not valid.", fields)
    if size > settings.UPLOAD_MAX_BYTES:
        raise too_large(settings.UPLOAD_MAX_BYTES)
    multipart = size >= settings.UPLOAD_MULTIPART_THRESHOLD
    with transaction.atomic(), storage_errors():
        video = GameVideo.objects.create(
            game=game,
            position=game.videos.count(),
            original_name=name[:255],
            status=GameVideo.Status.UPLOADING,
            expected_size=size,
            part_size=part_size_for(size) if multipart else None,
        )
        video.file.name = game_video_upload_to(video, f"v{video.pk}-{_safe_name(name)}")
        if multipart:
            extra = {"ContentType": content_type} if content_type else {}
            video.upload_id = storage.s3_client().create_multipart_upload(
                Bucket=storage.bucket_name(), Key=storage.object_key(video.file.name), **extra
            )["UploadId"]
        video.save()
    game.refresh_status()
    body = {
        "video_id": video.pk,
        "game_id": game.pk,
        "key": video.file.name,
        "size": size,
        "expires_in": settings.S3_PRESIGN_SECONDS,
    }
    if multipart:
        body |= {
            "mode": "multipart",
            "upload_id": video.upload_id,
            "part_size": video.part_size,
            "part_count": part_count(video),
        }
    else:
        body |= {
            "mode": "single",
            "url": storage.presigned_put_url(video.file.name, content_type=content_type),
            "headers": {"Content-Type": content_type} if content_type else {},
        }
    return video, body


def video_for_key(*, owner, key: str, upload_id: str = "") -> GameVideo:
    """The caller's upload at ``key``; a key outside the caller's prefix is refused."""
    key = (key or "").strip()
    prefix = storage.owner_prefix(owner.pk)
    if not key.startswith(prefix) or any(p in ("", ".", "..") for p in key.split("/")):
        raise ApiError(
            403, "key_outside_prefix", f"That key is not yours: your uploads live under {prefix}."
        )
    # A deduplicated video shares its twin's key: prefer the upload still in flight.
    candidates = GameVideo.objects.select_related("game", "game__owner").filter(
        game__owner=owner, file=key
    )
    video = (
        candidates.filter(status__in=GameVideo.ACTIVE_STATUSES).order_by("-id").first()
        or candidates.order_by("-id").first()
    )
    if video is None or (upload_id and upload_id != video.upload_id):
        raise ApiError(404, "not_found", "No upload with this key.")
    return video


def _pending_multipart(owner, key: str, upload_id: str) -> GameVideo:
    video = video_for_key(owner=owner, key=key, upload_id=upload_id)
    if video.status != GameVideo.Status.UPLOADING or not video.upload_id:
        raise ApiError(409, "not_uploading", "This upload is not an unfinished multipart upload.")
    return video


def upload_sign_parts(*, owner, key: str, upload_id: str, part_numbers: list[int]) -> dict:
    """Presigned PUT URLs for some parts of a multipart upload."""
    video = _pending_multipart(owner, key, upload_id)
    count = part_count(video)
    if not part_numbers:
        raise ApiError(
            422, "invalid", "Some fields are not valid.", {"part_numbers": ["Ask for a part."]}
        )
    if len(part_numbers) > MAX_PARTS_PER_REQUEST:
        raise ApiError(
            422,
            "invalid",
            "Some fields are not valid.",
            {"part_numbers": [f"Ask for at most {MAX_PARTS_PER_REQUEST} parts at a time."]},
        )
    bad = sorted({n for n in part_numbers if not 1 <= n <= count})
    if bad:
        raise ApiError(
            422,
            "part_out_of_range",
            f"Part {bad[0]} is out of range: this upload has parts 1 to {count}.",
            {"part_numbers": [f"Parts must be from 1 to {count}."]},
        )
    with storage_errors():
        parts = [
            {
                "part_number": n,
                "url": storage.presigned_part_url(
                    video.file.name, upload_id=video.upload_id, part_number=n
                ),
                "size": _expected_part_size(video, n),
            }
            for n in dict.fromkeys(part_numbers)
        ]
    return {"parts": parts, "expires_in": settings.S3_PRESIGN_SECONDS}


def _listed_parts(video: GameVideo) -> dict[int, dict]:
    """Parts the bucket holds for this upload: number -> {size, etag}."""
    from botocore.exceptions import ClientError

    client, parts, marker = storage.s3_client(), {}, 0
    while True:
        try:
            page = client.list_parts(
                Bucket=storage.bucket_name(),
                Key=storage.object_key(video.file.name),
                UploadId=video.upload_id,
                PartNumberMarker=marker,
            )
        except ClientError as exc:
            if _s3_code(exc) == "NoSuchUpload":
                raise ApiError(
                    410, "upload_expired", "This upload was abandoned and removed; start again."
                ) from exc
            raise
        for part in page.get("Parts", []):
            parts[part["PartNumber"]] = {"size": part["Size"], "etag": part["ETag"]}
        if not page.get("IsTruncated"):
            return parts
        marker = int(page["NextPartNumberMarker"])


def _parts_report(video: GameVideo, listed: dict[int, dict]) -> tuple[list[dict], list[int]]:
    parts, missing = [], []
    for n in range(1, part_count(video) + 1):
        part = listed.get(n)
        if part is not None and part["size"] == _expected_part_size(video, n):
            parts.append({"part_number": n, "size": part["size"], "etag": part["etag"]})
        else:
            missing.append(n)
    return parts, missing


def upload_parts(*, owner, key: str, upload_id: str = "") -> dict:
    """What a multipart upload already holds, so an interrupted upload sends only the rest.

    A part of the wrong size counts as missing (send it again: a part number re-sent
    replaces the old one).
    """
    video = _pending_multipart(owner, key, upload_id)
    with storage_errors():
        parts, missing = _parts_report(video, _listed_parts(video))
    return {
        "video_id": video.pk,
        "key": video.file.name,
        "upload_id": video.upload_id,
        "size": video.expected_size,
        "part_size": video.part_size,
        "part_count": part_count(video),
        "parts": parts,
        "missing": missing,
    }


def _incomplete(message: str) -> ApiError:
    return ApiError(409, "upload_incomplete", message)


def _complete_multipart(video: GameVideo) -> None:
    parts, missing = _parts_report(video, _listed_parts(video))
    if missing:
        raise _incomplete(
            f"{len(parts)} of {part_count(video)} parts are uploaded; "
            f"send the missing ones (first: part {missing[0]}), then confirm."
        )
    storage.s3_client().complete_multipart_upload(
        Bucket=storage.bucket_name(),
        Key=storage.object_key(video.file.name),
        UploadId=video.upload_id,
        MultipartUpload={
            "Parts": [{"PartNumber": p["part_number"], "ETag": p["etag"]} for p in parts]
        },
    )
    # The parts are now one object: a retried confirm must not look for them again.
    video.upload_id = ""
    GameVideo.objects.filter(pk=video.pk).update(upload_id="")


def _stored_size(video: GameVideo) -> int | None:
    from botocore.exceptions import ClientError

    try:
        head = storage.s3_client().head_object(
            Bucket=storage.bucket_name(), Key=storage.object_key(video.file.name)
        )
    except ClientError as exc:
        if _s3_code(exc) in ("404", "NoSuchKey", "NotFound"):
            return None
        raise
    return int(head["ContentLength"])


class _HashingWriter:
    def __init__(self, handle):
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def write(self, chunk: bytes) -> None:
        self.digest.update(chunk)
        self.size += len(chunk)
        self.handle.write(chunk)


def _fetch(video: GameVideo) -> Received:
    """Download the stored object once to a temporary file, hashing it on the way."""
    fd, tmp_name = tempfile.mkstemp(dir=incoming_dir(), prefix="confirm-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out:
            writer = _HashingWriter(out)
            storage.copy_to(video.file.storage, video.file.name, writer)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise
    return Received(path=Path(tmp_name), size=writer.size, sha256=writer.digest.hexdigest())


def upload_complete(*, owner, key: str, upload_id: str = "") -> GameVideo:
    """Confirm a direct upload: finish the multipart upload, check size, hash and probe.

    Confirming before every byte arrived is a 409 that changes nothing (resume, then
    confirm again). Confirming a video already decided returns it as it is.
    """
    video = video_for_key(owner=owner, key=key, upload_id=upload_id)
    if video.status in (GameVideo.Status.READY, GameVideo.Status.INVALID):
        return video
    claimed = GameVideo.objects.filter(pk=video.pk, status=GameVideo.Status.UPLOADING).update(
        status=GameVideo.Status.PROCESSING
    )
    if not claimed:
        raise ApiError(409, "confirm_in_progress", "This upload is already being checked.")
    try:
        with storage_errors():
            if video.upload_id:
                _complete_multipart(video)
            size = _stored_size(video)
            if size is None:
                raise _incomplete("The file has not arrived in storage yet; finish the upload.")
            if size != video.expected_size:
                _delete_stored(video)
                video.status = GameVideo.Status.INVALID
                video.error = (
                    f"The stored file has {size} bytes but the upload announced "
                    f"{video.expected_size}; it was removed."
                )
                video.save()
                video.game.refresh_status()
                _notify_result(video)
                return video
            received = _fetch(video)
        return video_conclude(video=video, received=received, stored=True)
    except BaseException:
        GameVideo.objects.filter(pk=video.pk, status=GameVideo.Status.PROCESSING).update(
            status=GameVideo.Status.UPLOADING
        )
        raise


def _discard_upload(video: GameVideo) -> None:
    """Remove whatever an unfinished upload left in the bucket or on disk."""
    from botocore.exceptions import ClientError

    if video.upload_id and storage.is_s3():
        try:
            storage.s3_client().abort_multipart_upload(
                Bucket=storage.bucket_name(),
                Key=storage.object_key(video.file.name),
                UploadId=video.upload_id,
            )
        except ClientError as exc:
            if _s3_code(exc) != "NoSuchUpload":
                raise
        video.upload_id = ""
    if video.file.name:
        _delete_stored(video)


def upload_abort(*, owner, key: str, upload_id: str = "") -> None:
    """Cancel an unfinished direct upload: parts and object removed, the video row deleted."""
    video = video_for_key(owner=owner, key=key, upload_id=upload_id)
    if video.status != GameVideo.Status.UPLOADING:
        raise ApiError(409, "not_uploading", "Only an unfinished upload can be cancelled.")
    with storage_errors():
        _discard_upload(video)
    game = video.game
    video.delete()
    game.refresh_status()


# --- Cleanup ---------------------------------------------------------------------------


@dataclass
class CleanupReport:
    videos_abandoned: int = 0
    multipart_aborted: int = 0
    temp_files_removed: int = 0


def uploads_cleanup(*, older_than: timedelta, now: datetime | None = None) -> CleanupReport:
    """Abort uploads left unfinished for longer than ``older_than``.

    Marks their videos invalid (bytes and parts removed, owner notified), aborts
    multipart uploads in the bucket that no video knows about, and removes stale
    temporary files of uploads through the app.
    """
    now = now or timezone.now()
    cutoff = now - older_than
    report = CleanupReport()
    # A video being checked right now is left alone unless it has been stuck for twice as long.
    stale = GameVideo.objects.select_related("game", "game__owner").filter(
        status=GameVideo.Status.UPLOADING, created_at__lt=cutoff
    ) | GameVideo.objects.select_related("game", "game__owner").filter(
        status=GameVideo.Status.PROCESSING, created_at__lt=now - 2 * older_than
    )
    hours = round(older_than.total_seconds() / 3600, 1)
    for video in stale:
        claimed = GameVideo.objects.filter(pk=video.pk, status=video.status).update(
            status=GameVideo.Status.INVALID
        )
        if not claimed:
            continue
        _discard_upload(video)
        video.status = GameVideo.Status.INVALID
        video.error = f"The upload was not finished within {hours:g} hours and was cancelled."
        video.save()
        video.game.refresh_status()
        _notify_result(video)
        report.videos_abandoned += 1
    if storage.is_s3():
        report.multipart_aborted = _abort_orphan_multipart(cutoff)
    for path in incoming_dir().iterdir():
        if path.is_file() and path.stat().st_mtime < cutoff.timestamp():
            path.unlink(missing_ok=True)
            report.temp_files_removed += 1
    return report


def _abort_orphan_multipart(cutoff: datetime) -> int:
    client, bucket = storage.s3_client(), storage.bucket_name()
    live = set(
        GameVideo.objects.filter(status__in=GameVideo.ACTIVE_STATUSES)
        .exclude(upload_id="")
        .values_list("upload_id", flat=True)
    )
    location = storage.default_storage().location
    prefix = f"{location.rstrip('/')}/" if location else ""
    aborted = 0
    for page in client.get_paginator("list_multipart_uploads").paginate(
        Bucket=bucket, Prefix=prefix
    ):
        for upload in page.get("Uploads", []):
            if upload["UploadId"] in live or upload["Initiated"] >= cutoff:
                continue
            client.abort_multipart_upload(
                Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"]
            )
            aborted += 1
    return aborted
