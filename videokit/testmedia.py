"""Small deterministic media for tests (all test suites use these; keep them fast).

Also a pixel reader so tests can check renders by sampling decoded frames.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import av

from videokit.ffmpeg import run_quiet

PATTERNS = ("testsrc2", "position", "gray")
POSITION_BLUE = 128


def _video_source(pattern: str, seconds: float, width: int, height: int, fps: int) -> str:
    size = f"{width}x{height}"
    if pattern == "testsrc2":
        return f"testsrc2=s={size}:r={fps}:d={seconds}"
    if pattern == "gray":
        return f"color=c=0x808080:s={size}:r={fps}:d={seconds}"
    if pattern == "position":
        # One frame drawn with geq (cheap at this size), then repeated: colour encodes position.
        frames = max(round(seconds * fps), 1)
        return (
            f"color=c=black:s={size}:r={fps},trim=end_frame=1,format=rgb24,"
            f"geq=r='X*255/W':g='Y*255/H':b={POSITION_BLUE},"
            f"loop=loop={frames - 1}:size=1,setpts=N/{fps}/TB"
        )
    raise ValueError(f"unknown pattern {pattern!r}; use one of {PATTERNS}")


def make_video(
    path: str | Path,
    *,
    seconds: float = 3,
    width: int = 320,
    height: int = 180,
    fps: int = 25,
    audio: bool = True,
    rotation: int = 0,
    pattern: str = "testsrc2",
) -> Path:
    """Write an H.264 yuv420p (+ AAC sine tone) MP4 with a keyframe every second.

    ``rotation`` (clockwise, 0/90/180/270) is stored as display-matrix metadata only,
    like a phone does: the coded picture stays ``width``x``height``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    target = path.with_name(path.stem + ".norot" + path.suffix) if rotation % 360 else path
    args = ["-f", "lavfi", "-i", _video_source(pattern, seconds, width, height, fps)]
    if audio:
        args += ["-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}"]
    args += [
        "-map", "0:v", *(["-map", "1:a"] if audio else []),
        "-t", str(seconds),
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
        "-g", str(fps), "-keyint_min", str(fps), "-sc_threshold", "0",
        "-r", str(fps),
    ]  # fmt: skip
    if audio:
        args += ["-c:a", "aac", "-b:a", "96k", "-ac", "2", "-ar", "48000"]
    args += ["-movflags", "+faststart", str(target)]
    run_quiet(args)
    if target != path:
        # -display_rotation is counter-clockwise; our rotation (and the phones') is clockwise.
        ccw = (-rotation) % 360
        run_quiet(["-display_rotation:v:0", str(ccw), "-i", str(target), "-c", "copy", str(path)])
        target.unlink()
    return path


def make_text_file_as_mp4(path: str | Path) -> Path:
    """A plain text file with an .mp4 name (what a careless upload looks like)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("This is not a video.\n" * 20, encoding="utf-8")
    return path


def make_truncated_mp4(path: str | Path, source: str | Path, *, keep: float = 0.5) -> Path:
    """The first ``keep`` fraction of ``source``'s bytes (an interrupted upload or copy)."""
    path = Path(path)
    data = Path(source).read_bytes()
    path.write_bytes(data[: max(int(len(data) * keep), 1)])
    return path


def copy_video(source: str | Path, path: str | Path) -> Path:
    """Copy a generated file (cheaper than generating the same one twice)."""
    return Path(shutil.copyfile(source, path))


def frame_at(path: str | Path, seconds: float) -> av.VideoFrame:
    """The frame shown at ``seconds`` as RGB, in coded orientation (PyAV does not autorotate)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        container.seek(int(max(seconds - 1.0, 0) * av.time_base), backward=True)
        half = 0.5 / float(stream.average_rate or 25)
        last = None
        for frame in container.decode(stream):
            last = frame
            if frame.time is not None and frame.time >= seconds - half:
                break
        if last is None:
            raise ValueError(f"no frame at {seconds}s in {path}")
        return last.reformat(format="rgb24")


def rgb_at(
    path: str | Path, seconds: float, points: list[tuple[int, int]]
) -> list[tuple[int, ...]]:
    """RGB values at pixel ``points`` ``(x, y)`` of the frame shown at ``seconds``."""
    frame = frame_at(path, seconds)
    plane = frame.planes[0]
    data = bytes(plane)
    out = []
    for x, y in points:
        offset = y * plane.line_size + x * 3
        out.append(tuple(data[offset : offset + 3]))
    return out


def frame_size(path: str | Path, seconds: float = 0.0) -> tuple[int, int]:
    frame = frame_at(path, seconds)
    return frame.width, frame.height
