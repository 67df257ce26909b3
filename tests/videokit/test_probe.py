from __future__ import annotations

from pathlib import Path

import pytest

from videokit.probe import ProbeError, probe_video


def test_probe_reads_video_with_audio(media: dict[str, Path]) -> None:
    info = probe_video(media["plain"])
    assert (info.width, info.height, info.fps) == (320, 180, 25.0)
    assert info.duration == pytest.approx(3.0, abs=0.05)
    assert (info.video_codec, info.audio_codec, info.has_audio) == ("h264", "aac", True)
    assert info.rotation == 0
    assert info.size == media["plain"].stat().st_size
    assert info.as_dict()["duration"] == info.duration


def test_probe_reads_video_without_audio(media: dict[str, Path]) -> None:
    info = probe_video(media["silent"])
    assert info.has_audio is False
    assert info.audio_codec is None
    assert info.duration == pytest.approx(2.0, abs=0.05)


def test_probe_reports_display_size_and_rotation_of_phone_video(media: dict[str, Path]) -> None:
    info = probe_video(media["rotated"])
    assert info.rotation == 90
    assert (info.width, info.height) == (180, 320)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("text", "The file is not a video we can read."),
        ("truncated", "The video is truncated or damaged."),
        ("headless", "The video is truncated or damaged."),
    ],
)
def test_probe_rejects_unusable_files_with_a_clear_sentence(
    media: dict[str, Path], name: str, message: str
) -> None:
    with pytest.raises(ProbeError) as caught:
        probe_video(media[name])
    assert str(caught.value) == message


def test_probe_rejects_a_file_without_video_stream(tmp_path: Path) -> None:
    from videokit.ffmpeg import run_quiet

    audio_only = tmp_path / "tone.mp4"
    run_quiet(["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "aac", str(audio_only)])
    with pytest.raises(ProbeError, match="no video stream"):
        probe_video(audio_only)


def test_probe_rejects_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ProbeError, match="does not exist"):
        probe_video(tmp_path / "nope.mp4")
