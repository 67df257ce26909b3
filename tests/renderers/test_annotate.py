from __future__ import annotations

from pathlib import Path

import ffmpeg
import pytest
from renderer_kit import RecordingProgress, close, source

from exports.renderers import RenderOutput, render, verify_output
from exports.renderers.annotate import RATING_COLOURS, border_width, caption, decorate
from exports.renderers.common import OutputSpec
from videokit.probe import probe_video
from videokit.testmedia import rgb_at

SHELL_NAME = "'; rm -rf / ;'"
EXPANSION_NAME = "\\:%{pts}"


def _rgb(hex_colour: str) -> tuple[int, int, int]:
    value = int(hex_colour, 16)
    return (value >> 16, (value >> 8) & 255, value & 255)


@pytest.fixture(scope="module")
def annotated(
    clips_media: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
) -> tuple[RenderOutput, RecordingProgress]:
    snapshot = {
        "kind": "annotate",
        "game": {"id": 1, "title": "Final"},
        "sources": [
            source("a", 4.0, 320, 180),
            source("b", 2.0, 320, 180, offset=4.0, has_audio=False),
        ],
        "clips": [
            # Keyframe to keyframe of one H.264/AAC file: extracted by stream copy.
            {"id": 1, "name": SHELL_NAME, "rating": 5, "notes": "n" * 150, "tags": [],
             "start": 1.0, "end": 2.0},
            {"id": 2, "name": EXPANSION_NAME, "rating": 1, "notes": "", "tags": [],
             "start": 0.5, "end": 1.7},
            # Spans both files; the second has no audio.
            {"id": 3, "name": "Counter", "rating": 3, "notes": "fast break", "tags": [],
             "start": 3.5, "end": 4.8},
        ],
        "output": {"width": 320, "height": 180, "fps": 30},
    }  # fmt: skip
    progress = RecordingProgress()
    out = render(
        snapshot,
        sources={"a": clips_media["game"], "b": clips_media["silent"]},
        workdir=tmp_path_factory.mktemp("annotate"),
        progress=progress,
    )
    return out, progress


def test_compilation_is_h264_aac_of_expected_size_and_duration(annotated) -> None:
    out, _ = annotated
    assert out.clip_count == 3
    assert out.expected_duration == pytest.approx(1.0 + 1.2 + 1.3)
    info = verify_output(out.path, expected_duration=out.expected_duration, clip_count=3, fps=30)
    assert (info.width, info.height, info.fps) == (320, 180, 30.0)
    assert abs(info.duration - out.expected_duration) <= 3 / 30


def test_border_has_the_rating_colour(annotated) -> None:
    out, _ = annotated
    edge = border_width(OutputSpec(320, 180, 30)) // 2
    for seconds, rating in ((0.5, 5), (1.6, 1), (3.0, 3)):
        left, top = rgb_at(out.path, seconds, [(edge, 90), (160, edge)])
        assert close(left, _rgb(RATING_COLOURS[rating])), (seconds, left)
        assert close(top, _rgb(RATING_COLOURS[rating])), (seconds, top)


def test_caption_box_is_white(annotated) -> None:
    out, _ = annotated
    # Right end of the box, past the short text: box spans x 16..304, bottom at y 164.
    (pixel,) = rgb_at(out.path, 1.6, [(295, 160)])
    assert min(pixel) > 200, pixel


def test_extras_are_plain_clips_of_the_clip_durations(annotated) -> None:
    out, _ = annotated
    names = [name for name, _ in out.extras]
    assert names == ["01-rm-rf.mp4", "02-pts.mp4", "03-counter.mp4"]
    durations = [probe_video(path).duration for _, path in out.extras]
    assert durations == pytest.approx([1.0, 1.2, 1.3], abs=0.05)
    for _, path in out.extras:
        info = probe_video(path)
        assert (info.video_codec, info.audio_codec) == ("h264", "aac")
    # The keyframe-aligned clip was stream-copied (source 25 fps kept); others re-encoded.
    assert probe_video(out.extras[0][1]).fps == 25.0
    assert probe_video(out.extras[1][1]).fps == 30.0
    # Plain: no rating border burned in (testsrc2's left edge is not light green).
    (left,) = rgb_at(out.extras[1][1], 0.5, [(4, 90)])
    assert not close(left, _rgb(RATING_COLOURS[1]))


def test_progress_reports_rendering_joining_extracting_within_5_to_95(annotated) -> None:
    _, progress = annotated
    names = [s["name"] for s in progress.stages]
    assert names == ["rendering"] * 3 + ["joining"] + ["extracting"] * 3
    assert progress.stages[2]["message"] == "Rendering clip 3 of 3"
    assert [(s["item"], s["items"]) for s in progress.stages[:3]] == [(1, 3), (2, 3), (3, 3)]
    assert progress.stages[3]["message"] == "Joining 3 clips"
    bounds = [(s["start"], s["end"]) for s in progress.stages]
    assert bounds[0][0] == 5.0 and bounds[-1][1] == 95.0
    assert all(a <= b for a, b in bounds)
    assert all(prev[1] == nxt[0] for prev, nxt in zip(bounds, bounds[1:], strict=False))
    # Clip 3 (1.3 s) weighs more than clip 1 (1.0 s).
    assert bounds[2][1] - bounds[2][0] > bounds[0][1] - bounds[0][0]
    assert all(0.0 <= f <= 1.0 for _, f in progress.fractions)


def test_clip_text_never_enters_the_filter_graph(tmp_path: Path) -> None:
    spec = OutputSpec(320, 180, 30)
    for name in (SHELL_NAME, EXPANSION_NAME):
        clip = {"name": name, "rating": 4, "notes": "50% of 'it'; rm -rf /"}
        video = decorate(ffmpeg.input("in.mp4").video, clip, spec, tmp_path, 1)
        args = " ".join(ffmpeg.output(video, "out.mp4").get_args())
        assert "rm -rf" not in args and "%{pts}" not in args
        assert "expansion=none" in args and "textfile=" in args
        assert (tmp_path / "clip1-0.txt").read_text(encoding="utf-8") == f"!  {name}"


def test_caption_uses_notation_and_truncates_notes() -> None:
    title, notes = caption({"name": "Goal", "rating": 5, "notes": "x" * 150})
    assert title == "!!  Goal"
    assert len(notes) == 100 and notes.endswith("…")
    assert caption({"name": "Miss", "rating": 1})[0] == "??  Miss"


def test_source_without_audio_gets_a_silent_track(
    clips_media: dict[str, Path], tmp_path: Path, progress: RecordingProgress
) -> None:
    snapshot = {
        "kind": "annotate",
        "game": {"id": 2, "title": "Mute"},
        "sources": [source("s", 2.0, 320, 180, has_audio=False)],
        "clips": [{"id": 9, "name": "Quiet", "rating": 2, "start": 0.0, "end": 1.0}],
        "output": {"width": 320, "height": 180, "fps": 25},
    }
    out = render(
        snapshot, sources={"s": clips_media["silent"]}, workdir=tmp_path, progress=progress
    )
    info = verify_output(out.path, expected_duration=1.0, clip_count=1, fps=25)
    assert info.has_audio and info.audio_codec == "aac"
    extra = probe_video(out.extras[0][1])
    assert extra.has_audio
