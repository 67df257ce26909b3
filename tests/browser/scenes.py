"""Data for browser scenarios: a game, clips and a project whose exports take a few seconds."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.files.base import ContentFile
from django.utils import timezone

from notifications.models import Notification
from tests.support.media import cached_video

KINDS = ("annotate", "framing", "overlay")
SOURCE = {"seconds": 8, "width": 320, "height": 180, "fps": 25, "audio": True}
WORKING = {"seconds": 4, "width": 270, "height": 480, "fps": 25, "audio": True}


@dataclass
class Scene:
    kind: str
    game: object
    project: object
    clips: list

    @property
    def page(self) -> str:
        """The page whose button starts this kind of export."""
        if self.kind == "annotate":
            return f"/games/{self.game.pk}/"
        return f"/projects/{self.project.pk}/"

    @property
    def elsewhere(self) -> str:
        """Another page of the app, where the user waits for the export to finish."""
        return "/exports/" if self.kind != "annotate" else "/projects/"

    def start(self, user, **options):
        """Start this kind of export through the service (as POST /api/exports does)."""
        from exports.services import export_start

        if self.kind == "annotate":
            target = {"game_id": self.game.pk}
            options.setdefault("clip_ids", [self.clips[1].pk])  # the 2 s clip: a short render
        else:
            target = {"project_id": self.project.pk}
        if self.kind == "framing":
            options.setdefault("scale", 0.25)
        return export_start(user=user, kind=self.kind, options=options, **target)


def _working_video(project) -> None:
    """Make the project's working video as a finished framing export would have (cheaply)."""
    from exports.models import ExportJob
    from exports.snapshots import framing_snapshot

    snapshot = framing_snapshot(project, {"scale": 0.25})
    with open(cached_video("working", **WORKING), "rb") as handle:
        project.working_video.save("working.mp4", ContentFile(handle.read()), save=True)
    ExportJob.objects.create(
        owner=project.owner,
        kind=ExportJob.Kind.FRAMING,
        status=ExportJob.Status.COMPLETE,
        project=project,
        input_snapshot=snapshot,
        output_file=project.working_video.name,
        progress=100,
        completed_at=timezone.now(),
    )


def make_scene(user, kind: str) -> Scene:
    """A game of 8 s with clips of 4 and 2 s; a project of the 4 s clip with a region."""
    from games import services

    game = services.game_create(owner=user, title=f"Scene {kind}")
    with open(cached_video("browser-source", **SOURCE), "rb") as handle:
        services.game_video_add(game=game, file_obj=handle, name="match.mp4")
    game.refresh_from_db()
    clips = [
        services.clip_create(game=game, start=0.5, end=4.5, name="Press", rating=4),
        services.clip_create(game=game, start=5.0, end=7.0, name="Goal", rating=5),
    ]
    regions = [
        {
            "start": 0.5,
            "end": 3.0,
            "effect": "spotlight",
            "keyframes": [{"t": 0, "x": 540, "y": 960, "rx": 200, "ry": 260}],
        }
    ]
    project = services.project_create(
        owner=user,
        game=game,
        name=f"Reel {kind}",
        aspect="9:16",
        clips=[{"clip_id": clips[0].pk, "highlight_regions": regions}],
    )
    if kind == "overlay":
        _working_video(project)
    project.refresh_from_db()
    # The upload's own notification is not what the scenarios are about: mark it handled.
    Notification.objects.filter(user=user).update(seen_at=timezone.now(), read_at=timezone.now())
    return Scene(kind=kind, game=game, project=project, clips=clips)
