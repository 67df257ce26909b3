"""Server-rendered pages for games and projects. Owner-only and thin: writes go to services."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from config.errors import ApiError
from config.ranged import ranged_file_response
from games import services
from games.forms import GameCreateForm, ProjectCreateForm
from games.models import Game, GameVideo, Project
from games.presets import (
    ASPECT_PRESETS,
    HIGHLIGHT_EFFECTS,
    MAX_SPEED,
    MIN_SPEED,
    RATINGS,
    TRANSITIONS,
)

PROJECT_HISTORY_LIMIT = 20


def _owned_game(request: HttpRequest, game_id: int) -> Game:
    return get_object_or_404(Game.objects.owned_by(request.user), pk=game_id)


def _owned_project(request: HttpRequest, project_id: int) -> Project:
    return get_object_or_404(
        Project.objects.owned_by(request.user).select_related("game"), pk=project_id
    )


def _video_parts(game: Game) -> list[dict]:
    """The game's ready files with their offset in game time (files play one after another)."""
    parts, offset = [], 0.0
    for video in game.ready_videos():
        parts.append(
            {
                "id": video.pk,
                "url": f"/games/{game.pk}/videos/{video.pk}/file",
                "offset": round(offset, 3),
                "duration": video.duration or 0,
                "width": video.width,
                "height": video.height,
            }
        )
        offset += video.duration or 0
    return parts


@login_required
def game_list(request: HttpRequest) -> HttpResponse:
    games = Game.objects.owned_by(request.user).prefetch_related("videos")
    return render(
        request,
        "games/list.html",
        {"games": games, "form": GameCreateForm(), "max_bytes": settings.UPLOAD_MAX_BYTES},
    )


@login_required
@require_POST
def game_create(request: HttpRequest) -> HttpResponse:
    """The no-JavaScript upload: one form post. The page's script uploads with progress instead."""
    form = GameCreateForm(request.POST, request.FILES)
    if not form.is_valid():
        games = Game.objects.owned_by(request.user).prefetch_related("videos")
        context = {"games": games, "form": form, "max_bytes": settings.UPLOAD_MAX_BYTES}
        return render(request, "games/list.html", context, status=400)
    game = services.game_create(owner=request.user, title=form.cleaned_data["title"])
    upload = form.cleaned_data["file"]
    services.game_video_add(game=game, file_obj=upload, name=upload.name)
    game.refresh_from_db()
    if game.status == Game.Status.READY:
        messages.success(request, f"“{game.title}” is ready.")
        return redirect("games:detail", game.pk)
    messages.error(request, f"“{game.title}” could not be used: {game.status_reason}")
    return redirect("games:list")


@login_required
def game_rows(request: HttpRequest) -> HttpResponse:
    """The games table alone, re-fetched by the page after an upload."""
    games = Game.objects.owned_by(request.user).prefetch_related("videos")
    return render(request, "games/_game_rows.html", {"games": games})


@login_required
def game_detail(request: HttpRequest, game_id: int) -> HttpResponse:
    game = _owned_game(request, game_id)
    context = {
        "game": game,
        "clips": game.clips.all(),
        "ratings": RATINGS.values(),
        "parts": _video_parts(game),
        "project_form": ProjectCreateForm(game=game, initial={"name": f"{game.title} highlights"}),
        "projects": game.projects.all(),
    }
    return render(request, "games/detail.html", context)


@login_required
def game_clips(request: HttpRequest, game_id: int) -> HttpResponse:
    """The clip list alone, re-fetched by the page after a clip is marked or deleted."""
    game = _owned_game(request, game_id)
    context = {"game": game, "clips": game.clips.all(), "ratings": RATINGS.values()}
    return render(request, "games/_clip_list.html", context)


@login_required
@require_POST
def project_create(request: HttpRequest, game_id: int) -> HttpResponse:
    game = _owned_game(request, game_id)
    form = ProjectCreateForm(request.POST, game=game)
    if form.is_valid():
        try:
            project = services.project_create(
                owner=request.user,
                game=game,
                name=form.cleaned_data["name"],
                aspect=form.cleaned_data["aspect"],
                clips=[{"clip_id": clip.pk} for clip in form.cleaned_data["clips"]],
            )
        except ApiError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, f"Project “{project.name}” created.")
            return redirect("games:project_detail", project.pk)
    context = {
        "game": game,
        "clips": game.clips.all(),
        "ratings": RATINGS.values(),
        "parts": _video_parts(game),
        "project_form": form,
        "projects": game.projects.all(),
    }
    return render(request, "games/detail.html", context, status=400)


@login_required
def game_video_file(request: HttpRequest, game_id: int, video_id: int) -> HttpResponse:
    video = get_object_or_404(
        GameVideo.objects.filter(game__owner=request.user, status=GameVideo.Status.READY),
        pk=video_id,
        game_id=game_id,
    )
    return ranged_file_response(request, video.file, filename=video.original_name or "game.mp4")


@login_required
def project_list(request: HttpRequest) -> HttpResponse:
    projects = (
        Project.objects.owned_by(request.user)
        .select_related("game")
        .prefetch_related("project_clips")
    )
    games = Game.objects.owned_by(request.user).filter(status=Game.Status.READY)
    return render(request, "games/project_list.html", {"projects": projects, "games": games})


def _project_page_data(project: Project) -> dict:
    """What the project editors start from (they save through the JSON API)."""
    clips = project.game.clips.all()
    return {
        "project_id": project.pk,
        "game_id": project.game_id,
        "preset": {
            "key": project.preset.key,
            "width": project.preset.width,
            "height": project.preset.height,
        },
        "presets": {k: {"width": p.width, "height": p.height} for k, p in ASPECT_PRESETS.items()},
        "parts": _video_parts(project.game),
        "clips": [
            {
                "id": c.pk,
                "name": str(c),
                "start": c.start,
                "end": c.end,
                "notation": c.notation,
                "colour": c.colour,
            }
            for c in clips
        ],
        "transitions": [{"value": v, "label": label} for v, label in TRANSITIONS],
        "effects": [{"value": v, "label": label} for v, label in HIGHLIGHT_EFFECTS],
        "speed": {"min": MIN_SPEED, "max": MAX_SPEED},
    }


@login_required
def project_detail(request: HttpRequest, project_id: int) -> HttpResponse:
    project = _owned_project(request, project_id)
    context = {
        "project": project,
        "page_data": _project_page_data(project),
        "jobs": project.export_jobs.all()[:PROJECT_HISTORY_LIMIT],
    }
    return render(request, "games/project_detail.html", context)


@login_required
def project_outputs(request: HttpRequest, project_id: int) -> HttpResponse:
    """The players and the export history alone, re-fetched when an export of it ends."""
    project = _owned_project(request, project_id)
    context = {"project": project, "jobs": project.export_jobs.all()[:PROJECT_HISTORY_LIMIT]}
    return render(request, "games/_project_outputs.html", context)


@login_required
def project_video_file(request: HttpRequest, project_id: int, which: str) -> HttpResponse:
    project = get_object_or_404(Project.objects.owned_by(request.user), pk=project_id)
    field = {"working": project.working_video, "final": project.final_video}.get(which)
    if not field:
        raise Http404
    return ranged_file_response(request, field, filename=f"{project.name}-{which}.mp4")
