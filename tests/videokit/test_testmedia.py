from __future__ import annotations

from pathlib import Path

from videokit.testmedia import POSITION_BLUE, rgb_at


def test_position_pattern_encodes_pixel_position_in_colour(media: dict[str, Path]) -> None:
    (left, centre, right) = rgb_at(media["position"], 0.5, [(0, 0), (160, 90), (319, 179)])
    assert left[0] < 10 and left[1] < 10
    assert abs(centre[0] - 160 * 255 / 320) < 8 and abs(centre[1] - 90 * 255 / 180) < 8
    assert right[0] > 240 and right[1] > 240
    assert all(abs(px[2] - POSITION_BLUE) < 8 for px in (left, centre, right))
