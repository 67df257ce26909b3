from __future__ import annotations

import sys
from pathlib import Path

import pytest

# Until pyproject sets `pythonpath = ["."]`, make the repo importable under `-p no:django`.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from videokit.testmedia import (  # noqa: E402
    make_text_file_as_mp4,
    make_truncated_mp4,
    make_video,
)


@pytest.fixture(scope="session", autouse=True)
def running_redis() -> None:
    """These tests need neither Redis nor the database (the code also runs in Modal)."""
    return None


@pytest.fixture(scope="session")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny videos made once per test run."""
    root = tmp_path_factory.mktemp("videokit-media")
    plain = make_video(root / "plain.mp4", seconds=3)
    return {
        "plain": plain,
        "silent": make_video(root / "silent.mp4", seconds=2, audio=False),
        "rotated": make_video(root / "rotated.mp4", seconds=2, rotation=90),
        "position": make_video(root / "position.mp4", seconds=1, pattern="position"),
        "text": make_text_file_as_mp4(root / "notes.mp4"),
        "truncated": make_truncated_mp4(root / "truncated.mp4", plain),
        "headless": make_truncated_mp4(root / "headless.mp4", plain, keep=0.02),
    }
