from __future__ import annotations

import pytest
from django.core.management import call_command

from games.models import Clip, Game, Project

pytestmark = pytest.mark.django_db


def test_seed_demo_is_idempotent():
    args = ["--seconds", "20", "--width", "320", "--height", "180"]
    call_command("seed_demo", *args)
    call_command("seed_demo", *args)
    game = Game.objects.get(title="Demo game")
    assert game.status == Game.Status.READY
    assert Game.objects.count() == 1
    assert Clip.objects.count() == 5
    assert Project.objects.count() == 1
    project = Project.objects.get()
    assert project.project_clips.count() == 2
    assert project.project_clips.first().crop_keyframes
