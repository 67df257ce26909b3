"""Read what a video file is (PyAV, no ffprobe) and refuse files we cannot render."""

from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av

NOT_A_VIDEO = "The file is not a video we can read."
NO_VIDEO_STREAM = "The file has no video stream."
DAMAGED = "The video is truncated or damaged."
EMPTY = "The video has no duration."
MISSING = "The file does not exist."

_MP4_BRANDS = (b"ftyp", b"moov", b"mdat", b"free", b"wide", b"skip")


@dataclass(frozen=True)
class VideoInfo:
    """Probed facts of a video; ``width``/``height`` are the display size (after rotation)."""

    duration: float
    fps: float
    width: int
    height: int
    video_codec: str
    audio_codec: str | None
    has_audio: bool
    rotation: int  # clockwise degrees to display: 0, 90, 180 or 270
    size: int  # bytes

    def as_dict(self) -> dict:
        return asdict(self)


class ProbeError(Exception):
    """The file cannot be used; ``str(error)`` is a sentence for the user."""


def _looks_like_iso_media(path: Path) -> bool:
    with open(path, "rb") as fh:
        head = fh.read(12)
    return len(head) >= 8 and head[4:8] in _MP4_BRANDS


def _rotation(frame: av.VideoFrame) -> int:
    # PyAV reports the display matrix counter-clockwise in (-180, 180]; phones and the
    # old "rotate" tag speak clockwise, so 90 means "turn the stored picture right".
    ccw = frame.rotation or 0
    return int(round(-ccw / 90.0)) * 90 % 360


def _fps(stream: av.video.stream.VideoStream) -> float:
    rate: Fraction | None = stream.average_rate or stream.guessed_rate or stream.base_rate
    if not rate or rate <= 0:
        return 0.0
    return round(float(rate), 3)


def _duration(container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> float:
    if container.duration and container.duration > 0:
        return container.duration / av.time_base
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    return 0.0


def _decodes_at(container: av.container.InputContainer, index: int, seconds: float) -> bool:
    """True when a frame decodes at or after ``seconds`` (reads only a few packets)."""
    stream = container.streams.video[index]
    try:
        if seconds > 0:
            container.seek(int(seconds * av.time_base), backward=True, any_frame=False)
        for _frame in container.decode(stream):
            return True
    except (av.error.FFmpegError, OSError):
        return False
    return False


def probe_video(path: str | Path) -> VideoInfo:
    """Probe ``path`` and check it is a usable video, else raise ``ProbeError``.

    Rejected: files FFmpeg cannot open, files without a video stream, truncated
    or damaged files (no index, first frame or the last second does not decode)
    and files of zero duration.
    """
    path = Path(path)
    if not path.is_file():
        raise ProbeError(MISSING)
    size = os.path.getsize(path)
    unreadable = DAMAGED if size and _looks_like_iso_media(path) else NOT_A_VIDEO
    try:
        container = av.open(str(path), metadata_errors="ignore")
    except (av.error.FFmpegError, OSError, UnicodeDecodeError) as exc:
        raise ProbeError(unreadable) from exc
    with container:
        if not container.streams.video:
            raise ProbeError(NO_VIDEO_STREAM)
        stream = container.streams.video[0]
        try:
            first = next(container.decode(stream), None)
        except (av.error.FFmpegError, OSError) as exc:
            raise ProbeError(DAMAGED) from exc
        if first is None:
            raise ProbeError(DAMAGED)
        duration = _duration(container, stream)
        if not math.isfinite(duration) or duration <= 0:
            raise ProbeError(EMPTY)
        if duration > 1.5 and not _decodes_at(container, 0, duration - 1.0):
            raise ProbeError(DAMAGED)
        rotation = _rotation(first)
        width, height = first.width, first.height
        if rotation in (90, 270):
            width, height = height, width
        audio = container.streams.audio[0] if container.streams.audio else None
        return VideoInfo(
            duration=round(duration, 3),
            fps=_fps(stream),
            width=width,
            height=height,
            video_codec=stream.codec_context.name,
            audio_codec=audio.codec_context.name if audio is not None else None,
            has_audio=audio is not None,
            rotation=rotation,
            size=size,
        )
