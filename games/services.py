"""Workflows on games, clips and projects. Views and API endpoints call these."""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from django.core.files import File
from django.db import transaction

from config.errors import ApiError
from games.models import Clip, Game, GameVideo, Project, ProjectClip
from games.presets import ASPECT_PRESETS

EDITABLE_CLIP_FIELDS = ("start", "end", "name", "rating", "tags", "notes")
PROJECT_CLIP_FIELDS = (
    "crop_keyframes",
    "speed_segments",
    "transition",
    "transition_duration",
    "highlight_regions",
)


@contextlib.contextmanager
def local_copy(field_file) -> Iterator[Path]:
    """A local path for a stored file: the file itself on disk, or a temporary download."""
    storage = field_file.storage
    try:
        yield Path(storage.path(field_file.name))
        return
    except NotImplementedError:
        pass
    suffix = Path(field_file.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix, prefix="reelforge-") as tmp:
        with storage.open(field_file.name, "rb") as src:
            shutil.copyfileobj(src, tmp, length=4 * 1024 * 1024)
        tmp.flush()
        yield Path(tmp.name)


def game_create(*, owner, title: str) -> Game:
    game = Game(owner=owner, title=title.strip())
    game.full_clean()
    game.save()
    return game


def game_video_probe(*, video: GameVideo) -> GameVideo:
    """Probe a stored video; mark it (and its game) ready, or invalid with the reason."""
    from videokit.probe import ProbeError, probe_video

    try:
        with local_copy(video.file) as path:
            info = probe_video(path)
    except ProbeError as exc:
        video.status = GameVideo.Status.INVALID
        video.error = str(exc)
        if video.file:
            video.file.delete(save=False)
    else:
        video.apply_probe(info)
        video.status = GameVideo.Status.READY
        video.error = ""
    video.save()
    game_refresh_status(game=video.game)
    return video


def game_video_add(*, game: Game, file_obj, name: str) -> GameVideo:
    """Store a file as the next video of a game and probe it."""
    position = game.videos.count()
    video = GameVideo.objects.create(game=game, position=position, original_name=name)
    video.file.save(Path(name).name, File(file_obj), save=True)
    return game_video_probe(video=video)


def game_refresh_status(*, game: Game) -> Game:
    statuses = set(game.videos.values_list("status", flat=True))
    if GameVideo.Status.UPLOADING in statuses or not statuses:
        status, reason = Game.Status.UPLOADING, ""
    elif GameVideo.Status.READY in statuses:
        status, reason = Game.Status.READY, ""
    else:
        first_error = game.videos.exclude(error="").values_list("error", flat=True).first()
        status, reason = Game.Status.INVALID, first_error or "No readable video."
    Game.objects.filter(pk=game.pk).update(status=status, status_reason=reason)
    game.status, game.status_reason = status, reason
    return game


def game_update(*, game: Game, title: str | None = None) -> Game:
    if title is not None:
        game.title = title.strip()
    game.full_clean()
    game.save()
    return game


def game_delete(*, game: Game) -> None:
    for video in game.videos.all():
        if (
            video.file
            and not GameVideo.objects.filter(file=video.file.name).exclude(pk=video.pk).exists()
        ):
            video.file.delete(save=False)
    game.delete()


def clip_create(*, game: Game, **fields) -> Clip:
    if game.status != Game.Status.READY:
        raise ApiError(409, "game_not_ready", "The game's video is not ready yet.")
    clip = Clip(game=game, **{k: v for k, v in fields.items() if k in EDITABLE_CLIP_FIELDS})
    clip.full_clean()
    clip.save()
    return clip


def clip_update(*, clip: Clip, **fields) -> Clip:
    for key, value in fields.items():
        if key in EDITABLE_CLIP_FIELDS and value is not None:
            setattr(clip, key, value)
    clip.full_clean()
    clip.save()
    return clip


def _project_clip(project: Project, item: dict, position: int) -> ProjectClip:
    clip = Clip.objects.filter(pk=item.get("clip_id"), game=project.game).first()
    if clip is None:
        raise ApiError(
            422,
            "invalid",
            "Some fields are not valid.",
            {f"clips.{position}.clip_id": ["No such clip in this project's game."]},
        )
    pc = ProjectClip(project=project, clip=clip, position=position)
    for key in PROJECT_CLIP_FIELDS:
        if item.get(key) is not None:
            setattr(pc, key, item[key])
    try:
        pc.full_clean()
    except Exception as exc:
        fields = getattr(exc, "message_dict", {"__all__": [str(exc)]})
        raise ApiError(
            422,
            "invalid",
            "Some fields are not valid.",
            {f"clips.{position}.{k}": v for k, v in fields.items()},
        ) from exc
    return pc


def _replace_project_clips(project: Project, items: list[dict]) -> None:
    new_clips = [_project_clip(project, item, i) for i, item in enumerate(items)]
    project.project_clips.all().delete()
    ProjectClip.objects.bulk_create(new_clips)


@transaction.atomic
def project_create(
    *,
    owner,
    game: Game,
    name: str,
    aspect: str = "9:16",
    fps: int = 30,
    clips: list[dict] | None = None,
) -> Project:
    if aspect not in ASPECT_PRESETS:
        raise ApiError(
            422, "invalid", "Some fields are not valid.", {"aspect": ["Unknown aspect."]}
        )
    project = Project(owner=owner, game=game, name=name.strip(), aspect=aspect, fps=fps)
    project.full_clean()
    project.save()
    _replace_project_clips(project, clips or [])
    return project


@transaction.atomic
def project_update(*, project: Project, version: int, **fields) -> Project:
    """Apply an edit made against ``version``; a stale version is refused with 409."""
    if not project.bump_version(expected=version):
        current = Project.objects.filter(pk=project.pk).values_list("version", flat=True).first()
        raise ApiError(
            409,
            "version_conflict",
            f"This project was changed elsewhere (now version {current}); reload and try again.",
        )
    for key in ("name", "aspect", "fps"):
        if fields.get(key) is not None:
            setattr(project, key, fields[key])
    project.full_clean()
    project.save()
    if fields.get("clips") is not None:
        _replace_project_clips(project, fields["clips"])
    return project


def project_delete(*, project: Project) -> None:
    for field in (project.working_video, project.final_video):
        if field:
            field.delete(save=False)
    project.delete()
