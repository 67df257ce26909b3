from __future__ import annotations

from django.urls import path

from games import views

app_name = "games"
urlpatterns = [
    path("", views.game_list, name="list"),
    path("games/<int:game_id>/", views.game_detail, name="detail"),
    path(
        "games/<int:game_id>/videos/<int:video_id>/file", views.game_video_file, name="video_file"
    ),
    path("projects/", views.project_list, name="project_list"),
    path("projects/<int:project_id>/", views.project_detail, name="project_detail"),
    path(
        "projects/<int:project_id>/<str:which>.mp4", views.project_video_file, name="project_video"
    ),
]
