"""Run FFmpeg as a cancellable child process group that reports real progress.

Graphs are built with ffmpeg-python (``ffmpeg.input(...).output(...).get_args()``)
and executed here, never with ffmpeg-python's own ``run()``: we need the process
group (to kill FFmpeg and anything it spawned), ``-progress pipe:1`` parsing and
a bounded stderr tail.
"""

from __future__ import annotations

import contextlib
import os
import queue
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import IO

STDERR_TAIL_BYTES = 8 * 1024
CANCEL_POLL_SECONDS = 0.1
TERM_GRACE_SECONDS = 2.0

_DISK_FULL_MARKERS = ("no space left on device", "enospc", "disk quota exceeded")


def ffmpeg_binary() -> str:
    """The FFmpeg executable: ``$FFMPEG_BINARY`` if set, else the one bundled by imageio-ffmpeg."""
    configured = os.environ.get("FFMPEG_BINARY", "").strip()
    if configured:
        return configured
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def with_readrate(args: list[str]) -> list[str]:
    """Insert ``-readrate $FFMPEG_READRATE`` before every input when that variable is set.

    Renders then run at that multiple of real time: operators use it to keep a
    render host responsive, and the browser tests use it so a render on tiny
    media lasts long enough to refresh or cancel mid-way.
    """
    rate = os.environ.get("FFMPEG_READRATE", "").strip()
    if not rate:
        return args
    throttled: list[str] = []
    for arg in args:
        if arg == "-i":
            throttled += ["-readrate", rate]
        throttled.append(arg)
    return throttled


class FFmpegError(Exception):
    """FFmpeg failed. ``user_message`` is for people, ``stderr_tail`` for the admin."""

    def __init__(self, user_message: str, *, stderr_tail: str = "", disk_full: bool = False):
        super().__init__(user_message)
        self.user_message = user_message
        self.stderr_tail = stderr_tail
        self.disk_full = disk_full

    def with_context(self, doing: str) -> FFmpegError:
        """A copy whose message says what was being done, e.g. "while rendering clip 3 of 7"."""
        base = self.user_message.rstrip(".")
        return FFmpegError(
            f"{base} while {doing}.", stderr_tail=self.stderr_tail, disk_full=self.disk_full
        )


class RenderCancelled(Exception):
    """The render was cancelled on request; FFmpeg's process group has been ended."""


def _user_message(stderr_tail: str, returncode: int) -> tuple[str, bool]:
    low = stderr_tail.lower()
    if any(marker in low for marker in _DISK_FULL_MARKERS):
        return "Disk full", True
    if "moov atom not found" in low or "invalid data found when processing input" in low:
        return "A source video could not be read", False
    if "no such file or directory" in low:
        return "A source video file is missing", False
    if returncode < 0:
        return f"The renderer was stopped (signal {-returncode})", False
    return "The video could not be rendered", False


def _read_progress(stream: IO[bytes], frames: queue.Queue[int | None]) -> None:
    """Parse ``-progress`` blocks (``key=value`` lines ending with ``progress=...``)."""
    frame = 0
    for raw in iter(stream.readline, b""):
        key, _, value = raw.decode("ascii", "replace").strip().partition("=")
        if key == "frame":
            with contextlib.suppress(ValueError):
                frame = int(value)
        elif key == "progress":
            frames.put(frame)
    frames.put(None)


def _read_tail(stream: IO[bytes], tail: deque[bytes]) -> None:
    # Always drain stderr so FFmpeg never blocks on a full pipe; keep only the end.
    for chunk in iter(lambda: stream.read1(4096), b""):
        tail.append(chunk)
        while sum(len(c) for c in tail) > STDERR_TAIL_BYTES * 2 and len(tail) > 1:
            tail.popleft()


def _tail_text(tail: deque[bytes]) -> str:
    return b"".join(tail)[-STDERR_TAIL_BYTES:].decode("utf-8", "replace")


def _end_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the whole process group, wait up to 2 s, then SIGKILL; always reap."""
    pgid = proc.pid
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=TERM_GRACE_SECONDS)
    # FFmpeg may have exited while a grandchild of its group lingers: kill the group anyway.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    proc.wait()


def run_ffmpeg(
    args: list[str],
    *,
    expected_frames: int,
    on_progress: Callable[[float], None],
    should_cancel: Callable[[], bool],
    on_start: Callable[[int], None] | None = None,
    binary: str | None = None,
) -> None:
    """Run ``ffmpeg <args>`` (args exclude the binary), reporting frame-based progress 0..1.

    Progress is ``frame / expected_frames`` (not ``out_time``, which runs ahead
    while audio is written first). ``should_cancel`` is polled about every 0.1 s
    even when FFmpeg is silent; on cancel the process group gets SIGTERM, then
    SIGKILL after 2 s, and ``RenderCancelled`` is raised. A non-zero exit raises
    ``FFmpegError``. ``on_start(pid)`` receives the pid, which is also the pgid.
    """
    if should_cancel():
        raise RenderCancelled()
    cmd = [
        binary or ffmpeg_binary(),
        "-hide_banner",
        "-nostdin",
        "-y",
        "-loglevel",
        "warning",
        "-progress",
        "pipe:1",
        "-nostats",
        "-stats_period",
        "0.1",
        *with_readrate(args),
    ]
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    frames: queue.Queue[int | None] = queue.Queue()
    tail: deque[bytes] = deque()
    readers = [
        threading.Thread(target=_read_progress, args=(proc.stdout, frames), daemon=True),
        threading.Thread(target=_read_tail, args=(proc.stderr, tail), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        if on_start is not None:
            on_start(proc.pid)
        _pump(proc, frames, expected_frames, on_progress, should_cancel)
    except BaseException:
        _end_group(proc)
        raise
    finally:
        for reader in readers:
            reader.join(timeout=5)
        proc.stdout.close()
        proc.stderr.close()
    if proc.returncode != 0:
        if should_cancel():
            raise RenderCancelled()
        stderr_tail = _tail_text(tail)
        message, disk_full = _user_message(stderr_tail, proc.returncode)
        raise FFmpegError(f"{message}.", stderr_tail=stderr_tail, disk_full=disk_full)


def _pump(
    proc: subprocess.Popen[bytes],
    frames: queue.Queue[int | None],
    expected_frames: int,
    on_progress: Callable[[float], None],
    should_cancel: Callable[[], bool],
) -> None:
    total = max(int(expected_frames), 1)
    reported = -1.0
    stream_open = True
    while True:
        if should_cancel():
            raise RenderCancelled()  # run_ffmpeg ends the process group
        if stream_open:
            try:
                frame = frames.get(timeout=CANCEL_POLL_SECONDS)
            except queue.Empty:
                continue
            if frame is None:
                stream_open = False
                continue
            fraction = min(frame / total, 1.0)
            if fraction > reported:
                reported = fraction
                on_progress(fraction)
            continue
        # stdout closed: FFmpeg is exiting; keep honouring cancel while we wait for it.
        try:
            proc.wait(timeout=CANCEL_POLL_SECONDS)
        except subprocess.TimeoutExpired:
            continue
        if proc.returncode == 0 and reported < 1.0:
            on_progress(1.0)
        return


def run_quiet(args: list[str], *, binary: str | None = None, timeout: float = 120) -> None:
    """Run a short FFmpeg command (test media, a still image) without progress; raise on failure."""
    cmd = [binary or ffmpeg_binary(), "-hide_banner", "-nostdin", "-y", "-loglevel", "error", *args]
    done = subprocess.run(cmd, capture_output=True, timeout=timeout, start_new_session=True)
    if done.returncode != 0:
        tail = done.stderr[-STDERR_TAIL_BYTES:].decode("utf-8", "replace")
        message, disk_full = _user_message(tail, done.returncode)
        raise FFmpegError(f"{message}.", stderr_tail=tail, disk_full=disk_full)


def wait_gone(pgid: int, timeout: float = 5.0) -> bool:
    """True once no process of group ``pgid`` is left (used by tests and the reaper)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False
