from __future__ import annotations

from pathlib import Path

import av
import pytest
from renderer_kit import RecordingProgress, close

from exports.renderers import render, verify_output
from videokit.testmedia import rgb_at

PROJECT = {"id": 1, "name": "Reel", "aspect": "16:9", "width": 320, "height": 180, "fps": 30}
WORKING = {"key": "working", "duration": 3.0, "width": 320, "height": 180, "fps": 30,
           "has_audio": True}  # fmt: skip
GRAY = (128, 128, 128)
DIMMED = (51, 51, 51)  # gray at 40 % brightness (SPOTLIGHT_DIM), in limited-range YUV


def _render(regions: list[dict], media: dict[str, Path], tmp_path: Path):
    snapshot = {"kind": "overlay", "project": PROJECT, "working_video": WORKING, "regions": regions}
    progress = RecordingProgress()
    out = render(snapshot, sources={"working": media["gray"]}, workdir=tmp_path, progress=progress)
    verify_output(out.path, expected_duration=3.0, clip_count=1, fps=30)
    assert out.expected_duration == 3.0
    return out, progress


def _moving(effect: str) -> list[dict]:
    # 1.0–2.5 s: an ellipse rx 40, ry 30 moving from x=100 to x=220 in the first second.
    return [{"start": 1.0, "end": 2.5, "effect": effect,
             "keyframes": [{"t": 0.0, "x": 100, "y": 90, "rx": 40, "ry": 30},
                           {"t": 1.0, "x": 220, "y": 90, "rx": 40, "ry": 30}]}]  # fmt: skip


def test_spotlight_dims_outside_and_keeps_inside(clips_media, tmp_path: Path) -> None:
    out, _ = _render(_moving("spotlight"), clips_media, tmp_path)
    inside, outside, corner = rgb_at(out.path, 1.0, [(100, 90), (200, 90), (10, 10)])
    assert close(inside, GRAY, 6)
    assert close(outside, DIMMED, 8) and close(corner, DIMMED, 8)
    # Half-way through the move the light is at x=160.
    moved_in, left_behind = rgb_at(out.path, 1.5, [(160, 90), (100, 90)])
    assert close(moved_in, GRAY, 6) and max(left_behind) < 80
    # Outside the region's time range the frame is untouched.
    for seconds in (0.5, 2.8):
        assert all(close(p, GRAY, 6) for p in rgb_at(out.path, seconds, [(100, 90), (10, 10)]))


def test_highlight_fills_yellow_with_no_outline(clips_media, tmp_path: Path) -> None:
    out, _ = _render(_moving("highlight"), clips_media, tmp_path)
    inside, edge_in, just_out, far = rgb_at(
        out.path, 1.0, [(100, 90), (137, 90), (144, 90), (10, 10)]
    )
    for pixel in (inside, edge_in):
        r, g, b = pixel
        assert r > 160 and g > 150 and b < 110, pixel
    assert close(just_out, GRAY, 8), just_out  # no ring just outside the edge
    assert close(far, GRAY, 6)
    for seconds in (0.5, 2.8):
        assert close(rgb_at(out.path, seconds, [(100, 90)])[0], GRAY, 6)


def test_ellipse_size_can_change_between_keyframes(clips_media, tmp_path: Path) -> None:
    regions = [{"start": 0.0, "end": 2.0, "effect": "highlight",
                "keyframes": [{"t": 0.0, "x": 160, "y": 90, "rx": 20, "ry": 20},
                              {"t": 2.0, "x": 160, "y": 90, "rx": 80, "ry": 60}]}]  # fmt: skip
    out, _ = _render(regions, clips_media, tmp_path)
    (early,) = rgb_at(out.path, 0.2, [(205, 90)])  # 45 px right: outside rx 26
    (late,) = rgb_at(out.path, 1.8, [(205, 90)])  # inside rx 74
    assert close(early, GRAY, 8) and late[2] < 110


def test_no_regions_is_a_stream_copy(clips_media, tmp_path: Path) -> None:
    out, progress = _render([], clips_media, tmp_path)

    def packets(path: Path) -> tuple[int, int]:
        with av.open(str(path)) as container:
            counts = [0, 0]
            for packet in container.demux():
                if packet.size:
                    counts[packet.stream.type == "audio"] += 1
            return counts[0], counts[1]

    assert packets(out.path) == packets(clips_media["gray"])
    with av.open(str(out.path)) as a, av.open(str(clips_media["gray"])) as b:
        assert a.duration == pytest.approx(b.duration, abs=1000)
    assert progress.stages[0]["message"] == "Copying the working video"


def test_spotlight_follows_a_changing_size(clips_media, tmp_path: Path) -> None:
    regions = [{"start": 0.0, "end": 2.0, "effect": "spotlight",
                "keyframes": [{"t": 0.0, "x": 160, "y": 90, "rx": 20, "ry": 20},
                              {"t": 2.0, "x": 160, "y": 90, "rx": 80, "ry": 60}]}]  # fmt: skip
    out, _ = _render(regions, clips_media, tmp_path)
    early_centre, early_ring = rgb_at(out.path, 0.2, [(160, 90), (205, 90)])  # ring: rx 26
    late_centre, late_ring, late_out = rgb_at(out.path, 1.8, [(160, 90), (205, 90), (250, 90)])
    assert close(early_centre, GRAY, 6) and max(early_ring) < 80
    assert close(late_centre, GRAY, 6) and close(late_ring, GRAY, 6) and max(late_out) < 80


def test_spotlight_at_the_frame_edge(clips_media, tmp_path: Path) -> None:
    # Centred on the right edge, then beyond the top-left corner (wholly outside the frame).
    regions = [{"start": 0.0, "end": 3.0, "effect": "spotlight",
                "keyframes": [{"t": 0.0, "x": 320, "y": 90, "rx": 40, "ry": 30},
                              {"t": 1.5, "x": 320, "y": 90, "rx": 40, "ry": 30},
                              {"t": 1.6, "x": -100, "y": -100, "rx": 40, "ry": 30}]}]  # fmt: skip
    out, _ = _render(regions, clips_media, tmp_path)
    inside, outside, corner = rgb_at(out.path, 1.0, [(300, 90), (260, 90), (5, 5)])
    assert close(inside, GRAY, 6) and max(outside) < 80 and max(corner) < 80
    assert all(max(p) < 80 for p in rgb_at(out.path, 2.5, [(5, 5), (160, 90), (315, 175)]))


def test_overlay_graph_never_splits_the_full_frame(
    clips_media, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A split of the decoded frames (and lut/geq on them) made the spotlight cost 1.3x.
    from exports.renderers import overlay

    seen: list[list[str]] = []
    monkeypatch.setattr(overlay, "run_step", lambda progress, args, **kw: seen.append(args))
    for effect in ("spotlight", "highlight"):
        snapshot = {"kind": "overlay", "project": PROJECT, "working_video": WORKING,
                    "regions": _moving(effect)}  # fmt: skip
        overlay.render_overlay(
            snapshot,
            sources={"working": clips_media["gray"]},
            workdir=tmp_path,
            progress=RecordingProgress(),
        )
    assert len(seen) == 2
    for args in seen:
        graph = args[args.index("-filter_complex") + 1]
        assert graph.count("[0:v:0]") == 1 and "[0:v:0]split" not in graph, graph
        assert "geq" not in graph and "lut" not in graph, graph
