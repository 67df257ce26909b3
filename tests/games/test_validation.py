"""Model validation rejects bad input with a message naming the field."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from games.models import Clip, Project, ProjectClip

pytestmark = pytest.mark.django_db


def errors_of(instance) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as caught:
        instance.full_clean()
    return caught.value.message_dict


def test_clip_must_end_after_it_starts(game):
    errors = errors_of(Clip(game=game, start=2.0, end=1.0, rating=3))
    assert "end must be after start." in errors["end"]


def test_clip_must_end_inside_the_game(game):
    errors = errors_of(Clip(game=game, start=1.0, end=game.duration + 5, rating=3))
    assert any("inside the game" in m for m in errors["end"])


@pytest.mark.parametrize("rating", [0, 6])
def test_clip_rating_is_one_to_five(game, rating):
    errors = errors_of(Clip(game=game, start=0.5, end=1.0, rating=rating))
    assert "rating" in errors


def test_valid_clip_passes(game):
    Clip(game=game, start=0.5, end=1.5, rating=5, tags=["goal"]).full_clean()


@pytest.fixture
def project_clip(game, user):
    clip = Clip.objects.create(game=game, start=0.0, end=2.0, rating=4, name="Goal")
    project = Project.objects.create(owner=user, game=game, name="Reel", aspect="9:16")
    return ProjectClip(project=project, clip=clip)


def test_crop_keyframe_outside_frame_is_rejected(project_clip):
    project_clip.crop_keyframes = [{"t": 0, "x": 300, "y": 0, "w": 101, "h": 180}]
    errors = errors_of(project_clip)
    assert any("inside the 320x180 frame" in m for m in errors["crop_keyframes"])


def test_crop_keyframe_in_wrong_aspect_is_rejected(project_clip):
    project_clip.crop_keyframes = [{"t": 0, "x": 0, "y": 0, "w": 180, "h": 180}]
    errors = errors_of(project_clip)
    assert any("9:16 aspect" in m for m in errors["crop_keyframes"])


def test_crop_keyframe_time_outside_clip_is_rejected(project_clip):
    project_clip.crop_keyframes = [{"t": 5, "x": 0, "y": 0, "w": 101, "h": 180}]
    errors = errors_of(project_clip)
    assert any("t must be inside the clip" in m for m in errors["crop_keyframes"])


@pytest.mark.parametrize("speed", [0.1, 5])
def test_speed_outside_quarter_to_four_is_rejected(project_clip, speed):
    project_clip.speed_segments = [{"start": 0.5, "end": 1.0, "speed": speed}]
    errors = errors_of(project_clip)
    assert any("speed must be from 0.25 to 4x" in m for m in errors["speed_segments"])


def test_highlight_keyframe_outside_frame_is_rejected(project_clip):
    project_clip.highlight_regions = [
        {
            "start": 0,
            "end": 1,
            "effect": "spotlight",
            "keyframes": [{"t": 0, "x": 5000, "y": 10, "rx": 50, "ry": 50}],
        }
    ]
    errors = errors_of(project_clip)
    assert any("inside the 1080x1920 frame" in m for m in errors["highlight_regions"])


def test_highlight_region_outside_clip_time_is_rejected(project_clip):
    project_clip.highlight_regions = [
        {
            "start": 1,
            "end": 9,
            "effect": "highlight",
            "keyframes": [{"t": 0, "x": 10, "y": 10, "rx": 5, "ry": 5}],
        }
    ]
    errors = errors_of(project_clip)
    assert any("time range must lie inside the clip" in m for m in errors["highlight_regions"])


def test_highlight_region_time_follows_speed(project_clip):
    # 1 s of the 2 s clip at half speed makes it 3 s long, so a region to 2.8 s is inside.
    project_clip.speed_segments = [{"start": 1.0, "end": 2.0, "speed": 0.5}]
    project_clip.highlight_regions = [
        {
            "start": 2,
            "end": 2.8,
            "effect": "highlight",
            "keyframes": [{"t": 0, "x": 10, "y": 10, "rx": 5, "ry": 5}],
        }
    ]
    project_clip.full_clean()


def test_valid_framing_passes(project_clip):
    project_clip.crop_keyframes = [
        {"t": 0, "x": 0, "y": 0, "w": 101, "h": 180},
        {"t": 2, "x": 219, "y": 0, "w": 101, "h": 180},
    ]
    project_clip.full_clean()
