from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Until pyproject sets `pythonpath = ["."]`, make the repo importable under `-p no:django`.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from renderer_kit import RecordingProgress  # noqa: E402

from videokit.testmedia import make_video  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def running_redis() -> None:
    """These tests need neither Redis nor the database (the code also runs in Modal)."""
    return None


@pytest.fixture
def progress() -> RecordingProgress:
    return RecordingProgress()


@pytest.fixture(scope="session")
def clips_media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny sources made once per test run (keyframe every second)."""
    root = tmp_path_factory.mktemp("renderer-media")
    return {
        "game": make_video(root / "game.mp4", seconds=4),
        "silent": make_video(root / "silent.mp4", seconds=2, audio=False),
        "position": make_video(root / "position.mp4", seconds=3, pattern="position"),
        "phone": make_video(root / "phone.mp4", seconds=2, width=320, height=240, rotation=90),
        "gray": make_video(root / "gray.mp4", seconds=3, fps=30, pattern="gray"),
    }
