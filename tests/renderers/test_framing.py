from __future__ import annotations

from pathlib import Path

import av
import pytest
from renderer_kit import RecordingProgress, close, source

from exports.renderers import render, verify_output
from exports.renderers.common import OutputSpec
from exports.renderers.framing import atempo, centre_window, speed_plan
from videokit.probe import probe_video
from videokit.testmedia import rgb_at

PROJECT = {"id": 1, "name": "Reel", "aspect": "9:16", "width": 90, "height": 160, "fps": 30}


def _clip(start: float, end: float, **extra: object) -> dict:
    return {
        "id": 1,
        "name": "clip",
        "start": start,
        "end": end,
        "crop_keyframes": [],
        "speed_segments": [],
        "transition": {"type": "cut", "duration": 0.0},
        **extra,
    }


def _render(clips: list[dict], sources: list[dict], files: dict[str, Path], tmp_path: Path):
    snapshot = {"kind": "framing", "project": PROJECT, "sources": sources, "clips": clips}
    progress = RecordingProgress()
    out = render(snapshot, sources=files, workdir=tmp_path, progress=progress)
    info = verify_output(out.path, expected_duration=out.expected_duration, clip_count=len(clips),
                         fps=30)  # fmt: skip
    assert (info.width, info.height) == (90, 160)
    return out, info, progress


def _red_at_centre(path: Path, seconds: float) -> int:
    (pixel,) = rgb_at(path, seconds, [(45, 80)])
    return pixel[0]


def test_crop_follows_keyframes(clips_media: dict[str, Path], tmp_path: Path) -> None:
    # Window 100x178 slides from x=0 to x=220 over 2 s: its centre goes 50 -> 270.
    keys = [{"t": 0.0, "x": 0, "y": 0, "w": 100, "h": 178},
            {"t": 2.0, "x": 220, "y": 0, "w": 100, "h": 178}]  # fmt: skip
    out, info, _ = _render(
        [_clip(0.0, 2.0, crop_keyframes=keys)],
        [source("p", 3.0, 320, 180)],
        {"p": clips_media["position"]},
        tmp_path,
    )
    assert info.duration == pytest.approx(2.0, abs=0.05)
    for seconds, centre_x in ((0.0, 50), (1.0, 160), (1.95, 50 + 220 * 1.95 / 2)):
        assert abs(_red_at_centre(out.path, seconds) - centre_x * 255 / 320) < 12, seconds


def test_zoom_changes_the_window_size(clips_media: dict[str, Path], tmp_path: Path) -> None:
    # From a full-height window at the left to a quarter-size one in the top-left corner.
    keys = [{"t": 0.0, "x": 0, "y": 0, "w": 100, "h": 178},
            {"t": 1.0, "x": 0, "y": 0, "w": 50, "h": 89}]  # fmt: skip
    out, _, _ = _render(
        [_clip(0.0, 1.5, crop_keyframes=keys)],
        [source("p", 3.0, 320, 180)],
        {"p": clips_media["position"]},
        tmp_path,
    )
    (start,) = rgb_at(out.path, 0.0, [(45, 80)])
    (end,) = rgb_at(out.path, 1.3, [(45, 80)])
    assert abs(start[1] - 89 * 255 / 180) < 12 and abs(end[1] - 44.5 * 255 / 180) < 12
    assert abs(start[0] - 50 * 255 / 320) < 12 and abs(end[0] - 25 * 255 / 320) < 12


def test_half_speed_over_one_second_of_two_makes_three(
    clips_media: dict[str, Path], tmp_path: Path
) -> None:
    clip = _clip(0.0, 2.0, speed_segments=[{"start": 1.0, "end": 2.0, "speed": 0.5}])
    out, info, _ = _render(
        [clip], [source("g", 4.0, 320, 180)], {"g": clips_media["game"]}, tmp_path
    )
    assert out.expected_duration == pytest.approx(3.0)
    assert info.duration == pytest.approx(3.0, abs=1 / 30 + 0.05)


def test_dissolve_shortens_by_the_overlap(clips_media: dict[str, Path], tmp_path: Path) -> None:
    clips = [
        _clip(0.0, 2.0, transition={"type": "dissolve", "duration": 0.5}),
        _clip(2.0, 4.0, transition={"type": "dissolve", "duration": 0.5}),  # last: ignored
    ]
    out, info, progress = _render(
        clips, [source("g", 4.0, 320, 180)], {"g": clips_media["game"]}, tmp_path
    )
    assert out.expected_duration == pytest.approx(3.5)
    assert info.duration == pytest.approx(3.5, abs=2 / 30 + 0.05)
    names = [s["name"] for s in progress.stages]
    assert names[:2] == ["rendering", "rendering"] and set(names[2:]) == {"joining"}
    bounds = [(s["start"], s["end"]) for s in progress.stages]
    assert bounds[0][0] == 5.0 and bounds[-1][1] == 95.0
    assert all(prev[1] == nxt[0] for prev, nxt in zip(bounds, bounds[1:], strict=False))


def test_dissolve_blends_only_the_overlap_and_keeps_every_frame(
    clips_media: dict[str, Path], tmp_path: Path
) -> None:
    # Position pattern (centre red ≈ 127) for 1 s, dissolving over 0.4 s into flat gray.
    clips = [
        _clip(0.0, 1.0, transition={"type": "dissolve", "duration": 0.4}),
        _clip(3.0, 4.0),
    ]
    sources = [source("p", 3.0, 320, 180), source("g", 3.0, 320, 180, offset=3.0, fps=30.0)]
    out, info, _ = _render(
        clips, sources, {"p": clips_media["position"], "g": clips_media["gray"]}, tmp_path
    )
    assert out.expected_duration == pytest.approx(1.6)
    with av.open(str(out.path)) as container:
        assert sum(1 for _ in container.decode(video=0)) == 48
    (before,) = rgb_at(out.path, 0.3, [(45, 80)])
    (middle,) = rgb_at(out.path, 0.8, [(45, 80)])
    (after,) = rgb_at(out.path, 1.3, [(45, 80)])
    assert before[2] > 100 and abs(before[0] - before[2]) > 0  # position: blue 128
    assert close(after, (128, 128, 128), 8)
    # Half-way through the dissolve: half of each.
    for channel in range(3):
        assert abs(middle[channel] - (before[channel] + after[channel]) / 2) < 16, middle


def test_fade_goes_through_black_without_changing_length(
    clips_media: dict[str, Path], tmp_path: Path
) -> None:
    clips = [_clip(0.0, 1.0, transition={"type": "fade", "duration": 0.6}), _clip(0.0, 1.0)]
    out, info, _ = _render(
        clips, [source("p", 3.0, 320, 180)], {"p": clips_media["position"]}, tmp_path
    )
    assert out.expected_duration == pytest.approx(2.0)
    (at_cut,) = rgb_at(out.path, 1.0, [(45, 80)])
    (inside,) = rgb_at(out.path, 0.5, [(45, 80)])
    assert max(at_cut) < 30 and max(inside) > 100


def test_mixed_sizes_and_rotated_phone_video_join(
    clips_media: dict[str, Path], tmp_path: Path
) -> None:
    sources = [
        source("g", 4.0, 320, 180),
        # 320x240 coded, rotated 90: displayed 240x320.
        source("phone", 2.0, 240, 320, offset=4.0, rotation=90),
    ]
    clips = [_clip(1.0, 2.0), _clip(4.5, 5.5)]
    out, info, _ = _render(
        clips, sources, {"g": clips_media["game"], "phone": clips_media["phone"]}, tmp_path
    )
    assert info.duration == pytest.approx(2.0, abs=2 / 30 + 0.05)
    assert probe_video(clips_media["phone"]).rotation == 90


def test_speed_plan_covers_the_clip_and_clamps_speed() -> None:
    plan = speed_plan({"speed_segments": [{"start": 0.5, "end": 1.0, "speed": 10}]}, 2.0)
    assert plan == [(0.0, 0.5, 1.0), (0.5, 1.0, 4.0), (1.0, 2.0, 1.0)]


def test_atempo_chains_stages_within_half_to_double() -> None:
    import ffmpeg

    args = " ".join(ffmpeg.output(atempo(ffmpeg.input("in.wav").audio, 0.25), "o.wav").get_args())
    assert args.count("atempo=0.5") == 2
    args = " ".join(ffmpeg.output(atempo(ffmpeg.input("in.wav").audio, 4.0), "o.wav").get_args())
    assert args.count("atempo=2.0") == 2


def test_empty_keyframes_mean_centre_crop_of_the_largest_window() -> None:
    window = centre_window((320, 180), OutputSpec(90, 160, 30))
    assert (window.w, window.h) == (102, 180)
    assert window.x == (320 - 102) // 2 and window.y == 0
