"""Helpers for the renderer tests (a recording ProgressSink, snapshot pieces, colour checks)."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RecordingProgress:
    """A ProgressSink that remembers what the renderer reported."""

    cancel_after_stages: int | None = None
    stages: list[dict] = field(default_factory=list)
    fractions: list[tuple[int, float]] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)

    def stage(self, name: str, **kw: object) -> None:
        self.stages.append({"name": name, **kw})

    def fraction(self, f: float) -> None:
        self.fractions.append((len(self.stages), f))

    def cancel_requested(self) -> bool:
        return self.cancel_after_stages is not None and len(self.stages) > self.cancel_after_stages

    def on_process(self, pid: int) -> None:
        self.pids.append(pid)


def source(key: str, duration: float, width: int, height: int, **extra: object) -> dict:
    """A snapshot "sources" entry as the engine builds it."""
    return {
        "key": key,
        "name": f"games/1/{key}.mp4",
        "offset": 0.0,
        "duration": duration,
        "fps": 25.0,
        "width": width,
        "height": height,
        "has_audio": True,
        "rotation": 0,
        **extra,
    }


def close(a: tuple[int, ...], b: tuple[int, ...], tolerance: int = 30) -> bool:
    return all(abs(x - y) <= tolerance for x, y in zip(a, b, strict=True))
