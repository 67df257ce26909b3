"""JSON endpoints for games, clips and projects. Thin: parse, authorize, call a service."""

from __future__ import annotations

from datetime import datetime

from django.shortcuts import get_object_or_404
from ninja import Field, File, Form, Router, Schema, Status
from ninja.files import UploadedFile

from games import services, uploads
from games.models import Clip, Game, Project

router = Router(tags=["games"])


class VideoOut(Schema):
    id: int
    position: int
    original_name: str
    status: str
    error: str
    size: int | None
    duration: float | None
    fps: float | None
    width: int | None
    height: int | None
    video_codec: str
    audio_codec: str
    has_audio: bool
    rotation: int


class GameOut(Schema):
    id: int
    title: str
    status: str
    status_reason: str
    duration: float
    size: int
    videos: list[VideoOut]
    created_at: datetime

    @staticmethod
    def resolve_videos(obj: Game) -> list:
        return list(obj.videos.all())


class GameIn(Schema):
    title: str = Field(..., min_length=1, max_length=200)


class GamePatch(Schema):
    title: str | None = Field(None, min_length=1, max_length=200)


class ClipOut(Schema):
    id: int
    game_id: int
    start: float
    end: float
    duration: float
    name: str
    rating: int
    notation: str
    colour: str
    tags: list[str]
    notes: str


class ClipIn(Schema):
    start: float
    end: float
    name: str = Field("", max_length=120)
    rating: int = 3
    tags: list[str] = []
    notes: str = ""


class ClipPatch(Schema):
    start: float | None = None
    end: float | None = None
    name: str | None = Field(None, max_length=120)
    rating: int | None = None
    tags: list[str] | None = None
    notes: str | None = None


class ProjectClipIO(Schema):
    clip_id: int
    crop_keyframes: list[dict] = []
    speed_segments: list[dict] = []
    transition: str = "cut"
    transition_duration: float = 0.5
    highlight_regions: list[dict] = []


class ProjectOut(Schema):
    id: int
    game_id: int
    name: str
    aspect: str
    fps: int
    version: int
    clips: list[ProjectClipIO]
    working_video: str | None
    final_video: str | None
    updated_at: datetime

    @staticmethod
    def resolve_clips(obj: Project) -> list:
        return list(obj.project_clips.all())

    @staticmethod
    def resolve_working_video(obj: Project) -> str | None:
        return obj.working_video.name or None

    @staticmethod
    def resolve_final_video(obj: Project) -> str | None:
        return obj.final_video.name or None


class ProjectIn(Schema):
    game_id: int
    name: str = Field(..., min_length=1, max_length=200)
    aspect: str = "9:16"
    fps: int = Field(30, ge=1, le=120)
    clips: list[ProjectClipIO] = []


class ProjectPatch(Schema):
    version: int
    name: str | None = Field(None, min_length=1, max_length=200)
    aspect: str | None = None
    fps: int | None = Field(None, ge=1, le=120)
    clips: list[ProjectClipIO] | None = None


def _game(request, game_id: int) -> Game:
    return get_object_or_404(Game.objects.owned_by(request.user), pk=game_id)


def _clip(request, clip_id: int) -> Clip:
    return get_object_or_404(Clip.objects.filter(game__owner=request.user), pk=clip_id)


def _project(request, project_id: int) -> Project:
    return get_object_or_404(Project.objects.owned_by(request.user), pk=project_id)


@router.get("/games", response=list[GameOut])
def list_games(request):
    return Game.objects.owned_by(request.user).prefetch_related("videos")


@router.post("/games", response={201: GameOut})
def create_game(request, payload: GameIn):
    return Status(201, services.game_create(owner=request.user, title=payload.title))


@router.post("/games/{game_id}/videos", response={201: GameOut})
def upload_game_video(request, game_id: int, file: File[UploadedFile], name: Form[str] = ""):
    """Upload a video through the app (multipart form); it is probed before the game is ready."""
    game = _game(request, game_id)
    services.game_video_add(game=game, file_obj=file, name=name or file.name)
    return Status(201, game)


@router.put("/games/{game_id}/upload", response={201: GameOut})
def upload_game_video_raw(request, game_id: int, name: str = "video.mp4"):
    """Upload a video as the raw request body (streamed to disk; the way to send big files
    through the app). Send Content-Length; the file name goes in ``?name=``."""
    game = _game(request, game_id)
    length = request.META.get("CONTENT_LENGTH")
    services.game_video_upload(
        game=game, read=request.read, length=int(length) if length else None, name=name
    )
    game.refresh_from_db()
    return Status(201, game)


class UploadConfigOut(Schema):
    direct: bool
    multipart_threshold: int
    part_size: int
    max_bytes: int


class UploadStartIn(Schema):
    game_id: int
    name: str = Field(..., min_length=1, max_length=255)
    size: int
    content_type: str = Field("", max_length=255)


class UploadKeyIn(Schema):
    key: str = Field(..., min_length=1, max_length=500)
    upload_id: str = ""


class UploadPartsIn(UploadKeyIn):
    part_numbers: list[int]


@router.get("/uploads/config", response=UploadConfigOut)
def upload_config(request):
    """Which upload mode is active: direct to the bucket (S3) or through the app."""
    return uploads.upload_config()


@router.post("/uploads", response={201: dict})
def upload_start(request, payload: UploadStartIn):
    """Start a direct upload: a presigned PUT URL, or a multipart upload for big files."""
    game = _game(request, payload.game_id)
    _, body = uploads.upload_start(
        owner=request.user,
        game=game,
        name=payload.name,
        size=payload.size,
        content_type=payload.content_type,
    )
    return Status(201, body)


@router.post("/uploads/parts", response=dict)
def upload_sign_parts(request, payload: UploadPartsIn):
    """Presigned URLs for parts of a multipart upload."""
    return uploads.upload_sign_parts(
        owner=request.user,
        key=payload.key,
        upload_id=payload.upload_id,
        part_numbers=payload.part_numbers,
    )


@router.get("/uploads/parts", response=dict)
def upload_list_parts(request, key: str, upload_id: str = ""):
    """The parts already in the bucket and the ones still missing (to resume)."""
    return uploads.upload_parts(owner=request.user, key=key, upload_id=upload_id)


@router.post("/uploads/confirm", response=GameOut)
def upload_confirm(request, payload: UploadKeyIn):
    """The upload finished: check the object (size, hash, probe) and make the game ready."""
    video = uploads.upload_complete(
        owner=request.user, key=payload.key, upload_id=payload.upload_id
    )
    return Game.objects.get(pk=video.game_id)


@router.post("/uploads/abort", response={204: None})
def upload_abort(request, payload: UploadKeyIn):
    """Cancel an unfinished direct upload (parts and bytes removed)."""
    uploads.upload_abort(owner=request.user, key=payload.key, upload_id=payload.upload_id)
    return Status(204, None)


@router.get("/games/{game_id}", response=GameOut)
def get_game(request, game_id: int):
    return _game(request, game_id)


@router.patch("/games/{game_id}", response=GameOut)
def patch_game(request, game_id: int, payload: GamePatch):
    return services.game_update(game=_game(request, game_id), title=payload.title)


@router.delete("/games/{game_id}", response={204: None})
def delete_game(request, game_id: int):
    services.game_delete(game=_game(request, game_id))
    return Status(204, None)


@router.get("/games/{game_id}/clips", response=list[ClipOut])
def list_clips(request, game_id: int):
    return _game(request, game_id).clips.all()


@router.post("/games/{game_id}/clips", response={201: ClipOut})
def create_clip(request, game_id: int, payload: ClipIn):
    return Status(201, services.clip_create(game=_game(request, game_id), **payload.dict()))


@router.get("/clips/{clip_id}", response=ClipOut)
def get_clip(request, clip_id: int):
    return _clip(request, clip_id)


@router.patch("/clips/{clip_id}", response=ClipOut)
def patch_clip(request, clip_id: int, payload: ClipPatch):
    return services.clip_update(clip=_clip(request, clip_id), **payload.dict(exclude_unset=True))


@router.delete("/clips/{clip_id}", response={204: None})
def delete_clip(request, clip_id: int):
    _clip(request, clip_id).delete()
    return Status(204, None)


@router.get("/projects", response=list[ProjectOut])
def list_projects(request):
    return Project.objects.owned_by(request.user).prefetch_related("project_clips")


@router.post("/projects", response={201: ProjectOut})
def create_project(request, payload: ProjectIn):
    data = payload.dict()
    game = _game(request, data.pop("game_id"))
    return Status(201, services.project_create(owner=request.user, game=game, **data))


@router.get("/projects/{project_id}", response=ProjectOut)
def get_project(request, project_id: int):
    return _project(request, project_id)


@router.patch("/projects/{project_id}", response=ProjectOut)
def patch_project(request, project_id: int, payload: ProjectPatch):
    data = payload.dict(exclude_unset=True)
    return services.project_update(project=_project(request, project_id), **data)


@router.delete("/projects/{project_id}", response={204: None})
def delete_project(request, project_id: int):
    services.project_delete(project=_project(request, project_id))
    return Status(204, None)
