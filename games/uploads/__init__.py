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

from games.uploads.cleanup import CleanupReport, uploads_cleanup
from games.uploads.direct import (
    part_size_for,
    storage_errors,
    upload_abort,
    upload_complete,
    upload_config,
    upload_parts,
    upload_sign_parts,
    upload_start,
    video_for_key,
)
from games.uploads.receive import (
    Received,
    file_in_use_elsewhere,
    incoming_dir,
    receive_stream,
    too_large,
    video_conclude,
    video_receive,
)

__all__ = [
    "CleanupReport",
    "Received",
    "file_in_use_elsewhere",
    "incoming_dir",
    "part_size_for",
    "receive_stream",
    "storage_errors",
    "too_large",
    "upload_abort",
    "upload_complete",
    "upload_config",
    "upload_parts",
    "upload_sign_parts",
    "upload_start",
    "uploads_cleanup",
    "video_conclude",
    "video_for_key",
    "video_receive",
]
