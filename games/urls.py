from __future__ import annotations

from django.urls import path

from games import views

app_name = "games"
urlpatterns = [
    path("", views.game_list, name="list"),
    path("games/new", views.game_create, name="create"),
    path("games/rows", views.game_rows, name="rows"),
    path("games/<int:game_id>/", views.game_detail, name="detail"),
    path("games/<int:game_id>/clips", views.game_clips, name="clips"),
    path("games/<int:game_id>/projects/new", views.project_create, name="project_create"),
    path(
        "games/<int:game_id>/videos/<int:video_id>/file", views.game_video_file, name="video_file"
    ),
    path("projects/", views.project_list, name="project_list"),
    path("projects/<int:project_id>/", views.project_detail, name="project_detail"),
    path("projects/<int:project_id>/outputs", views.project_outputs, name="project_outputs"),
    path(
        "projects/<int:project_id>/<str:which>.mp4", views.project_video_file, name="project_video"
    ),
]
