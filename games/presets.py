"""Rating notation and colours, and the aspect presets a project renders to."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rating:
    value: int
    notation: str
    colour: str
    label: str


RATINGS = {
    5: Rating(5, "!!", "#9ccc65", "brilliant"),
    4: Rating(4, "!", "#43a047", "good"),
    3: Rating(3, "!?", "#1e88e5", "interesting"),
    2: Rating(2, "?", "#ffb300", "weak"),
    1: Rating(1, "??", "#e53935", "blunder"),
}


@dataclass(frozen=True)
class AspectPreset:
    key: str
    width: int
    height: int

    @property
    def ratio(self) -> float:
        return self.width / self.height


ASPECT_PRESETS = {
    "9:16": AspectPreset("9:16", 1080, 1920),
    "16:9": AspectPreset("16:9", 1920, 1080),
    "1:1": AspectPreset("1:1", 1080, 1080),
    "4:5": AspectPreset("4:5", 1080, 1350),
}
ASPECT_CHOICES = [(key, key) for key in ASPECT_PRESETS]

TRANSITIONS = [("cut", "Cut"), ("fade", "Fade through black"), ("dissolve", "Dissolve")]
HIGHLIGHT_EFFECTS = [("spotlight", "Spotlight"), ("highlight", "Highlight")]
MIN_SPEED, MAX_SPEED = 0.25, 4.0
