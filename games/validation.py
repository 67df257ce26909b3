"""Validation of clips and framing data. Every message names the field it is about.

Raised as ``django.core.exceptions.ValidationError`` with a dict of field -> messages,
so model ``clean()``, forms and the JSON API report the same words.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.core.exceptions import ValidationError

from games.presets import HIGHLIGHT_EFFECTS, MAX_SPEED, MIN_SPEED, AspectPreset

ASPECT_TOLERANCE_PX = 2
EFFECTS = {key for key, _ in HIGHLIGHT_EFFECTS}


def _number(value, field: str, errors: dict[str, list[str]]) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        errors.setdefault(field, []).append(f"{field} must be a number.")
        return None
    return float(value)


def _raise_if(errors: dict[str, list[str]]) -> None:
    if errors:
        raise ValidationError(errors)


def validate_clip(
    *, start: float, end: float, rating: int, tags, game_duration: float | None
) -> None:
    errors: dict[str, list[str]] = {}
    if start is not None and start < 0:
        errors.setdefault("start", []).append("start must be 0 or later.")
    if start is not None and end is not None and end <= start:
        errors.setdefault("end", []).append("end must be after start.")
    if game_duration and end is not None and end > game_duration + 1e-3:
        errors.setdefault("end", []).append(
            f"end must be inside the game ({game_duration:.2f} s long)."
        )
    if rating not in (1, 2, 3, 4, 5):
        errors.setdefault("rating", []).append("rating must be a whole number from 1 to 5.")
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        errors.setdefault("tags", []).append("tags must be a list of words.")
    _raise_if(errors)


def clip_output_duration(duration: float, speed_segments: Iterable[dict]) -> float:
    """How long a clip plays after its speed segments are applied."""
    total = duration
    for seg in speed_segments:
        length = seg["end"] - seg["start"]
        total += length / seg["speed"] - length
    return round(total, 3)


def validate_crop_keyframes(
    keyframes, *, clip_duration: float, source_size: tuple[int, int] | None, preset: AspectPreset
) -> list[str]:
    field = "crop_keyframes"
    if not isinstance(keyframes, list):
        return [f"{field} must be a list."]
    messages: list[str] = []
    for i, kf in enumerate(keyframes, start=1):
        if not isinstance(kf, dict) or not {"t", "x", "y", "w", "h"} <= kf.keys():
            messages.append(f"{field} #{i} needs t, x, y, w and h.")
            continue
        errors: dict[str, list[str]] = {}
        t, x, y, w, h = (_number(kf[k], f"{field} #{i} {k}", errors) for k in "txywh")
        if errors:
            messages.extend(m for ms in errors.values() for m in ms)
            continue
        if not 0 <= t <= clip_duration + 1e-6:
            messages.append(
                f"{field} #{i}: t must be inside the clip (0 to {clip_duration:.2f} s)."
            )
        if w <= 0 or h <= 0:
            messages.append(f"{field} #{i}: w and h must be positive.")
            continue
        if abs(w - h * preset.ratio) > ASPECT_TOLERANCE_PX:
            messages.append(
                f"{field} #{i}: the window {w:g}x{h:g} is not in the project's {preset.key} aspect."
            )
        if source_size:
            width, height = source_size
            if x < 0 or y < 0 or x + w > width or y + h > height:
                messages.append(
                    f"{field} #{i}: the window must lie inside the {width}x{height} frame."
                )
    times = [kf.get("t") for kf in keyframes if isinstance(kf, dict)]
    if times != sorted(t for t in times if t is not None):
        messages.append(f"{field} must be in time order.")
    return messages


def validate_speed_segments(segments, *, clip_duration: float) -> list[str]:
    field = "speed_segments"
    if not isinstance(segments, list):
        return [f"{field} must be a list."]
    messages: list[str] = []
    previous_end = 0.0
    for i, seg in enumerate(segments, start=1):
        if not isinstance(seg, dict) or not {"start", "end", "speed"} <= seg.keys():
            messages.append(f"{field} #{i} needs start, end and speed.")
            continue
        errors: dict[str, list[str]] = {}
        start, end, speed = (
            _number(seg[k], f"{field} #{i} {k}", errors) for k in ("start", "end", "speed")
        )
        if errors:
            messages.extend(m for ms in errors.values() for m in ms)
            continue
        if not MIN_SPEED <= speed <= MAX_SPEED:
            messages.append(f"{field} #{i}: speed must be from {MIN_SPEED} to {MAX_SPEED:g}x.")
        if start < previous_end - 1e-6 or end <= start or end > clip_duration + 1e-6:
            messages.append(
                f"{field} #{i}: must run forward inside the clip (0 to {clip_duration:.2f} s) "
                "without overlapping the one before."
            )
        previous_end = end
    return messages


def validate_highlight_regions(
    regions, *, output_duration: float, preset: AspectPreset
) -> list[str]:
    field = "highlight_regions"
    if not isinstance(regions, list):
        return [f"{field} must be a list."]
    messages: list[str] = []
    for i, region in enumerate(regions, start=1):
        if (
            not isinstance(region, dict)
            or not {"start", "end", "effect", "keyframes"} <= region.keys()
        ):
            messages.append(f"{field} #{i} needs start, end, effect and keyframes.")
            continue
        if region["effect"] not in EFFECTS:
            messages.append(f"{field} #{i}: effect must be one of {', '.join(sorted(EFFECTS))}.")
        errors: dict[str, list[str]] = {}
        start, end = (_number(region[k], f"{field} #{i} {k}", errors) for k in ("start", "end"))
        if errors:
            messages.extend(m for ms in errors.values() for m in ms)
            continue
        if start < 0 or end <= start or end > output_duration + 1e-6:
            messages.append(
                f"{field} #{i}: the time range must lie inside the clip "
                f"(0 to {output_duration:.2f} s)."
            )
        keyframes = region["keyframes"]
        if not isinstance(keyframes, list) or not keyframes:
            messages.append(f"{field} #{i}: needs at least one keyframe.")
            continue
        for j, kf in enumerate(keyframes, start=1):
            where = f"{field} #{i} keyframe {j}"
            if not isinstance(kf, dict) or not {"t", "x", "y", "rx", "ry"} <= kf.keys():
                messages.append(f"{where} needs t, x, y, rx and ry.")
                continue
            errs: dict[str, list[str]] = {}
            t, x, y, rx, ry = (
                _number(kf[k], f"{where} {k}", errs) for k in ("t", "x", "y", "rx", "ry")
            )
            if errs:
                messages.extend(m for ms in errs.values() for m in ms)
                continue
            if not 0 <= t <= end - start + 1e-6:
                messages.append(f"{where}: t must be inside the region (0 to {end - start:.2f} s).")
            if rx <= 0 or ry <= 0:
                messages.append(f"{where}: rx and ry must be positive.")
            if not (0 <= x <= preset.width and 0 <= y <= preset.height):
                messages.append(
                    f"{where}: the centre must lie inside the {preset.width}x{preset.height} frame."
                )
    return messages


def validate_framing(
    *,
    crop_keyframes,
    speed_segments,
    highlight_regions,
    clip_duration: float,
    source_size: tuple[int, int] | None,
    preset: AspectPreset,
) -> None:
    errors: dict[str, list[str]] = {}
    crop = validate_crop_keyframes(
        crop_keyframes, clip_duration=clip_duration, source_size=source_size, preset=preset
    )
    speed = validate_speed_segments(speed_segments, clip_duration=clip_duration)
    if crop:
        errors["crop_keyframes"] = crop
    if speed:
        errors["speed_segments"] = speed
    else:
        output = clip_output_duration(clip_duration, speed_segments)
        regions = validate_highlight_regions(
            highlight_regions, output_duration=output, preset=preset
        )
        if regions:
            errors["highlight_regions"] = regions
    _raise_if(errors)
