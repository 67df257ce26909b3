"""Workflows on games, clips and projects. Views and API endpoints call these.

Uploads and storage details live in ``games.uploads`` and ``games.storage``; the
functions here are the entry points the views, API and other apps call.
"""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from config.errors import ApiError
from games import storage, uploads
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


def game_create(*, owner, title: str) -> Game:
    game = Game(owner=owner, title=title.strip())
    game.full_clean()
    game.save()
    return game


def game_video_probe(*, video: GameVideo) -> GameVideo:
    """Probe a stored video again; mark it (and its game) ready, or invalid with the reason."""
    from videokit.probe import ProbeError, probe_video

    try:
        with storage.local_copy(video.file) as path:
            info = probe_video(path)
    except ProbeError as exc:
        video.status, video.error = GameVideo.Status.INVALID, str(exc)
        if video.file.name and not uploads.file_in_use_elsewhere(
            video.file.name, exclude_pk=video.pk
        ):
            video.file.delete(save=False)
        video.file.name = ""
    else:
        video.apply_probe(info)
        video.status, video.error = GameVideo.Status.READY, ""
    video.save()
    game_refresh_status(game=video.game)
    return video


def game_video_add(*, game: Game, file_obj, name: str) -> GameVideo:
    """Store a file object as the next video of a game, checked before the game is ready.

    The file is copied in 1 MiB chunks to a temporary file (hashed on the way), probed,
    then moved or streamed into storage; a file the owner already has is stored once.
    """
    size = getattr(file_obj, "size", None)
    if isinstance(size, int) and size > settings.UPLOAD_MAX_BYTES:
        raise uploads.too_large(settings.UPLOAD_MAX_BYTES)
    received = uploads.receive_stream(read=file_obj.read, length=None)
    return uploads.video_receive(game=game, name=name, received=received)


def game_video_upload(
    *, game: Game, read: Callable[[int], bytes], length: int | None, name: str
) -> GameVideo:
    """Receive a raw request body (``PUT /api/games/{id}/upload``) as the next video.

    ``length`` is the request's Content-Length: past UPLOAD_MAX_BYTES the upload is
    refused before a byte is read; a body that runs past it anyway is cut off.
    """
    if length is None:
        raise ApiError(411, "length_required", "Send the file size in Content-Length.")
    received = uploads.receive_stream(read=read, length=length)
    return uploads.video_receive(game=game, name=name, received=received)


def game_refresh_status(*, game: Game) -> Game:
    game.refresh_status()
    return game


def game_update(*, game: Game, title: str | None = None) -> Game:
    if title is not None:
        game.title = title.strip()
    game.full_clean()
    game.save()
    return game


def game_delete(*, game: Game) -> None:
    """Delete a game with its files; a file shared with another game (dedup) stays."""
    with uploads.storage_errors():
        for video in game.videos.all():
            if video.status == GameVideo.Status.UPLOADING and video.upload_id:
                uploads.upload_abort(owner=game.owner, key=video.file.name)
                continue
            name = video.file.name
            if name and not GameVideo.objects.filter(file=name).exclude(game=game).exists():
                video.file.storage.delete(name)
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
