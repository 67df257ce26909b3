"""Server-rendered pages for games and projects. Owner-only, thin."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404
from django.shortcuts import get_object_or_404, render

from config.ranged import ranged_file_response
from games.models import Game, GameVideo, Project


@login_required
def game_list(request):
    games = Game.objects.owned_by(request.user).prefetch_related("videos")
    return render(request, "games/list.html", {"games": games})


@login_required
def game_detail(request, game_id: int):
    game = get_object_or_404(Game.objects.owned_by(request.user), pk=game_id)
    return render(request, "games/detail.html", {"game": game, "clips": game.clips.all()})


@login_required
def game_video_file(request, game_id: int, video_id: int):
    video = get_object_or_404(
        GameVideo.objects.filter(game__owner=request.user, status=GameVideo.Status.READY),
        pk=video_id,
        game_id=game_id,
    )
    return ranged_file_response(request, video.file, filename=video.original_name or "game.mp4")


@login_required
def project_list(request):
    projects = Project.objects.owned_by(request.user).select_related("game")
    return render(request, "games/project_list.html", {"projects": projects})


@login_required
def project_detail(request, project_id: int):
    project = get_object_or_404(Project.objects.owned_by(request.user), pk=project_id)
    return render(request, "games/project_detail.html", {"project": project})


@login_required
def project_video_file(request, project_id: int, which: str):
    project = get_object_or_404(Project.objects.owned_by(request.user), pk=project_id)
    field = {"working": project.working_video, "final": project.final_video}.get(which)
    if not field:
        raise Http404
    return ranged_file_response(request, field, filename=f"{project.name}-{which}.mp4")
