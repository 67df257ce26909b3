from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from renderer_kit import RecordingProgress, source

from exports.renderers import OutputInvalid, RenderError, render, verify_output
from exports.renderers.common import Source, interpolate, pieces_for, piecewise
from videokit.ffmpeg import FFmpegError, RenderCancelled
from videokit.testmedia import make_truncated_mp4


def _source(key: str, offset: float, duration: float) -> Source:
    return Source(key, Path(f"{key}.mp4"), offset, duration, 25.0, 320, 180, True)


def test_a_clip_spanning_two_files_becomes_two_pieces() -> None:
    files = [_source("a", 0.0, 10.0), _source("b", 10.0, 5.0)]
    pieces = pieces_for(files, 8.0, 12.0, label="#1")
    assert [(p.source.key, p.start, p.duration) for p in pieces] == [
        ("a", 8.0, 2.0),
        ("b", 0.0, 2.0),
    ]
    with pytest.raises(RenderError, match="outside the game video"):
        pieces_for(files, 20.0, 21.0, label="#1")


def test_piecewise_expression_matches_linear_interpolation() -> None:
    points = [(0.0, 0.0), (2.0, 220.0), (3.0, 100.0)]
    expr = piecewise(points)
    assert expr.startswith("if(lt(t,0),0,if(lt(t,2),")
    python = expr.replace("if(", "IF(").replace("lt(", "LT(")
    for t in (0.0, 0.5, 1.99, 2.5, 3.0, 4.0):
        env = {"IF": lambda c, a, b: a if c else b, "LT": lambda a, b: a < b, "t": t}
        value = eval(python, env)
        assert value == pytest.approx(interpolate(points, t), abs=0.01)


def test_verify_output_rejects_a_wrong_duration(clips_media: dict[str, Path]) -> None:
    info = verify_output(clips_media["game"], expected_duration=4.0, clip_count=1, fps=25)
    assert info.duration == pytest.approx(4.0, abs=0.05)
    with pytest.raises(OutputInvalid, match="instead of 3.00 s"):
        verify_output(clips_media["game"], expected_duration=3.0, clip_count=1, fps=25)


def test_verify_output_rejects_missing_audio_and_damaged_files(
    clips_media: dict[str, Path], tmp_path: Path
) -> None:
    with pytest.raises(OutputInvalid, match="wrong format"):
        verify_output(clips_media["silent"], expected_duration=2.0, clip_count=1, fps=25)
    broken = make_truncated_mp4(tmp_path / "broken.mp4", clips_media["game"])
    with pytest.raises(OutputInvalid, match="could not be read"):
        verify_output(broken, expected_duration=4.0, clip_count=1, fps=25)


def _annotate(clips: int = 2) -> dict:
    return {
        "kind": "annotate",
        "game": {"id": 1, "title": "G"},
        "sources": [source("a", 4.0, 320, 180)],
        "clips": [
            {"id": i, "name": f"c{i}", "rating": 4, "start": 0.0, "end": 2.0}
            for i in range(1, clips + 1)
        ],
        "output": {"width": 320, "height": 180, "fps": 25},
    }


def test_cancel_during_a_render_stops_it(clips_media: dict[str, Path], tmp_path: Path) -> None:
    progress = RecordingProgress(cancel_after_stages=1)
    with pytest.raises(RenderCancelled):
        render(_annotate(), sources={"a": clips_media["game"]}, workdir=tmp_path, progress=progress)
    assert [s["name"] for s in progress.stages] == ["rendering", "rendering"]
    assert not (tmp_path / "annotated.mp4").exists()


def test_unreadable_source_names_the_failing_step(
    clips_media: dict[str, Path], tmp_path: Path
) -> None:
    broken = make_truncated_mp4(tmp_path / "a.mp4", clips_media["game"], keep=0.02)
    with pytest.raises(FFmpegError) as caught:
        render(
            _annotate(), sources={"a": broken}, workdir=tmp_path / "w", progress=RecordingProgress()
        )
    assert caught.value.user_message.endswith("while rendering clip 1 of 2.")
    assert caught.value.stderr_tail


def test_missing_source_and_unknown_kind_are_clear(tmp_path: Path) -> None:
    with pytest.raises(RenderError, match="games/1/a.mp4 is missing"):
        render(_annotate(), sources={}, workdir=tmp_path, progress=RecordingProgress())
    with pytest.raises(RenderError, match="Unknown export kind"):
        render({"kind": "gif"}, sources={}, workdir=tmp_path, progress=RecordingProgress())


def test_renderers_do_not_import_django() -> None:
    import subprocess
    import sys

    code = (
        "import sys, exports.renderers.annotate, exports.renderers.framing, "
        "exports.renderers.overlay, videokit.probe, videokit.testmedia; "
        "assert 'django' not in sys.modules, 'django imported'"
    )
    root = Path(__file__).resolve().parents[2]
    done = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert shutil.which(sys.executable)
