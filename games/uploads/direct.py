"""Direct uploads from the browser to the bucket: presigned PUT, or resumable multipart."""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.conf import settings
from django.db import transaction

from config.errors import ApiError
from games import storage
from games.models import Game, GameVideo, game_video_upload_to
from games.uploads.receive import (
    Received,
    delete_stored,
    incoming_dir,
    notify_result,
    safe_name,
    too_large,
    video_conclude,
)

S3_MIN_PART = 5 * 1024 * 1024
S3_MAX_PARTS = 10_000
MAX_PARTS_PER_REQUEST = 1000
CONTENT_TYPE_RE = re.compile(r"^[\w.+-]+/[\w.+-]+$")


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
        video.file.name = game_video_upload_to(video, f"v{video.pk}-{safe_name(name)}")
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
                delete_stored(video)
                video.status = GameVideo.Status.INVALID
                video.error = (
                    f"The stored file has {size} bytes but the upload announced "
                    f"{video.expected_size}; it was removed."
                )
                video.save()
                video.game.refresh_status()
                notify_result(video)
                return video
            received = _fetch(video)
        return video_conclude(video=video, received=received, stored=True)
    except BaseException:
        GameVideo.objects.filter(pk=video.pk, status=GameVideo.Status.PROCESSING).update(
            status=GameVideo.Status.UPLOADING
        )
        raise


def discard_upload(video: GameVideo) -> None:
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
        delete_stored(video)


def upload_abort(*, owner, key: str, upload_id: str = "") -> None:
    """Cancel an unfinished direct upload: parts and object removed, the video row deleted."""
    video = video_for_key(owner=owner, key=key, upload_id=upload_id)
    if video.status != GameVideo.Status.UPLOADING:
        raise ApiError(409, "not_uploading", "Only an unfinished upload can be cancelled.")
    with storage_errors():
        discard_upload(video)
    game = video.game
    video.delete()
    game.refresh_status()
