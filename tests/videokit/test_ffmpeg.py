from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from videokit.ffmpeg import FFmpegError, RenderCancelled, ffmpeg_binary, run_ffmpeg, wait_gone


def _encode_args(out: Path, *, seconds: float, readrate: float | None = None) -> list[str]:
    pace = ["-readrate", str(readrate)] if readrate else []
    return [
        *pace,
        "-f", "lavfi", "-i", f"testsrc2=s=320x180:r=25:d={seconds}",
        "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", str(out),
    ]  # fmt: skip


def test_ffmpeg_binary_prefers_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FFMPEG_BINARY", "/opt/ffmpeg/bin/ffmpeg")
    assert ffmpeg_binary() == "/opt/ffmpeg/bin/ffmpeg"
    monkeypatch.delenv("FFMPEG_BINARY")
    assert Path(ffmpeg_binary()).is_file()


def test_progress_rises_monotonically_to_one(tmp_path: Path) -> None:
    seen: list[float] = []
    pids: list[int] = []
    run_ffmpeg(
        _encode_args(tmp_path / "out.mp4", seconds=3, readrate=2),
        expected_frames=75,
        on_progress=seen.append,
        should_cancel=lambda: False,
        on_start=pids.append,
    )
    assert seen == sorted(seen)
    assert seen[-1] == 1.0
    assert len(set(seen)) >= 10
    assert len(pids) == 1 and (tmp_path / "out.mp4").stat().st_size > 0


def test_cancel_kills_ffmpeg_process_group(tmp_path: Path) -> None:
    pids: list[int] = []
    cancel = threading.Event()
    threading.Timer(0.5, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(RenderCancelled):
        run_ffmpeg(
            _encode_args(tmp_path / "out.mp4", seconds=60, readrate=1),
            expected_frames=1500,
            on_progress=lambda f: None,
            should_cancel=cancel.is_set,
            on_start=pids.append,
        )
    assert time.monotonic() - started < 3.0
    with pytest.raises(ProcessLookupError):
        os.killpg(pids[0], 0)


def test_cancel_is_polled_while_ffmpeg_prints_nothing(tmp_path: Path) -> None:
    # Reading a FIFO nobody writes to: FFmpeg blocks silently before any progress block,
    # and ignores SIGTERM while blocked in open(), so this also exercises the SIGKILL.
    fifo = tmp_path / "never.ts"
    os.mkfifo(fifo)
    pids: list[int] = []
    cancel = threading.Event()
    threading.Timer(0.3, cancel.set).start()
    started = time.monotonic()
    with pytest.raises(RenderCancelled):
        run_ffmpeg(
            ["-i", str(fifo), "-f", "null", "-"],
            expected_frames=10,
            on_progress=lambda f: None,
            should_cancel=cancel.is_set,
            on_start=pids.append,
        )
    assert time.monotonic() - started < 3.0
    assert wait_gone(pids[0], timeout=0.1)


def test_failing_command_raises_with_stderr_tail(tmp_path: Path) -> None:
    with pytest.raises(FFmpegError) as caught:
        run_ffmpeg(
            ["-i", str(tmp_path / "missing.mp4"), str(tmp_path / "out.mp4")],
            expected_frames=10,
            on_progress=lambda f: None,
            should_cancel=lambda: False,
        )
    assert "No such file or directory" in caught.value.stderr_tail
    assert caught.value.user_message == "A source video file is missing."
    assert not caught.value.disk_full


def test_disk_full_is_detected() -> None:
    # /dev/full fails every write with ENOSPC, like a full disk.
    with pytest.raises(FFmpegError) as caught:
        run_ffmpeg(
            [*_encode_args(Path("/dev/full"), seconds=1)[:-1], "-f", "mpegts", "/dev/full"],
            expected_frames=25,
            on_progress=lambda f: None,
            should_cancel=lambda: False,
        )
    assert caught.value.disk_full
    assert caught.value.user_message == "Disk full."
    assert "No space left on device" in caught.value.stderr_tail
    assert caught.value.with_context("rendering clip 3 of 7").user_message == (
        "Disk full while rendering clip 3 of 7."
    )


def test_cancel_before_start_spawns_nothing(tmp_path: Path) -> None:
    pids: list[int] = []
    with pytest.raises(RenderCancelled):
        run_ffmpeg(
            _encode_args(tmp_path / "out.mp4", seconds=1),
            expected_frames=25,
            on_progress=lambda f: None,
            should_cancel=lambda: True,
            on_start=pids.append,
        )
    assert pids == []
