"""Create the demo user, a generated demo game with rated clips, and one project. Idempotent."""

from __future__ import annotations

import tempfile
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction

from games import services
from games.models import Game

DEMO_USERNAME = "demo"
DEMO_PASSWORD = "reelforge-demo"
DEMO_GAME_TITLE = "Demo game"
DEMO_CLIPS = [  # (start fraction, length s, name, rating, notes)
    (0.10, 6, "Kick-off press", 3, "High press straight from kick-off."),
    (0.25, 8, "Through ball", 4, "Split the back line."),
    (0.45, 5, "Missed header", 2, "Late run, header wide."),
    (0.60, 10, "Solo goal", 5, "Beat three, finished low."),
    (0.80, 6, "Turnover", 1, "Lost it in our half."),
]


class Command(BaseCommand):
    help = "Create the demo user, a demo game (generated video) with clips, and a demo project."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--seconds", type=float, default=120)
        parser.add_argument("--width", type=int, default=1280)
        parser.add_argument("--height", type=int, default=720)

    def handle(self, *args, seconds: float, width: int, height: int, **options) -> None:
        user = self._demo_user()
        if Game.objects.filter(
            owner=user, title=DEMO_GAME_TITLE, status=Game.Status.READY
        ).exists():
            self.stdout.write("Demo data already there.")
        else:
            Game.objects.filter(owner=user, title=DEMO_GAME_TITLE).delete()
            self._demo_game(user, seconds=seconds, width=width, height=height)
        self.stdout.write(self.style.SUCCESS(f"Sign in as {DEMO_USERNAME} / {DEMO_PASSWORD}"))

    def _demo_user(self):
        user, created = get_user_model().objects.get_or_create(username=DEMO_USERNAME)
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        return user

    def _demo_game(self, user, *, seconds: float, width: int, height: int) -> None:
        from videokit.testmedia import make_video

        self.stdout.write(f"Generating a {seconds:g} s {width}x{height} demo video (once)...")
        with tempfile.TemporaryDirectory() as folder:
            path = make_video(
                Path(folder) / "demo-game.mp4", seconds=seconds, width=width, height=height, fps=30
            )
            with transaction.atomic():
                game = services.game_create(owner=user, title=DEMO_GAME_TITLE)
                with open(path, "rb") as handle:
                    services.game_video_add(game=game, file_obj=handle, name="demo-game.mp4")
                game.refresh_from_db()
                clips = [self._clip(game, seconds, *spec) for spec in DEMO_CLIPS]
                self._project(user, game, clips, width=width, height=height)
        self.stdout.write(f"Demo game with {len(clips)} clips and a project created.")

    def _clip(self, game, seconds, fraction, length, name, rating, notes):
        start = round(seconds * fraction, 2)
        end = min(round(start + min(length, seconds / 10), 2), seconds)
        return services.clip_create(
            game=game, start=start, end=end, name=name, rating=rating, notes=notes, tags=["demo"]
        )

    def _project(self, user, game, clips, *, width: int, height: int) -> None:
        crop_h = height
        crop_w = round(crop_h * 9 / 16)
        best = [c for c in clips if c.rating >= 4]
        items = []
        for clip in best:
            items.append(
                {
                    "clip_id": clip.pk,
                    "crop_keyframes": [
                        {"t": 0.0, "x": 0, "y": 0, "w": crop_w, "h": crop_h},
                        {"t": clip.duration, "x": width - crop_w, "y": 0, "w": crop_w, "h": crop_h},
                    ],
                    "transition": "dissolve",
                    "transition_duration": 0.5,
                    "highlight_regions": [
                        {
                            "start": round(clip.duration * 0.1, 2),
                            "end": round(clip.duration * 0.6, 2),
                            "effect": "spotlight",
                            "keyframes": [{"t": 0, "x": 540, "y": 960, "rx": 200, "ry": 260}],
                        }
                    ],
                }
            )
        services.project_create(
            owner=user, game=game, name="Demo highlight", aspect="9:16", clips=items
        )
