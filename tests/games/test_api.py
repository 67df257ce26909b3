"""The games / clips / projects JSON API: CRUD for the owner, 404 for others, errors."""

from __future__ import annotations

import json

import pytest

from games.models import Clip, Game, Project

pytestmark = pytest.mark.django_db


def post(client, url, body, **extra):
    return client.post(url, json.dumps(body), content_type="application/json", **extra)


def patch(client, url, body):
    return client.patch(url, json.dumps(body), content_type="application/json")


def test_anonymous_gets_401_json(client):
    response = client.get("/api/games")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_game_crud_for_owner(client_user, game):
    listed = client_user.get("/api/games").json()
    assert [g["id"] for g in listed] == [game.pk]
    assert listed[0]["status"] == "ready"
    assert listed[0]["videos"][0]["width"] == 320

    created = post(client_user, "/api/games", {"title": "Semi final"})
    assert created.status_code == 201
    game_id = created.json()["id"]
    assert created.json()["status"] == "uploading"

    assert patch(client_user, f"/api/games/{game_id}", {"title": "Semi"}).json()["title"] == "Semi"
    assert client_user.delete(f"/api/games/{game_id}").status_code == 204
    assert not Game.objects.filter(pk=game_id).exists()


def test_upload_a_video_through_the_api_probes_it(client_user, video_path):
    game_id = post(client_user, "/api/games", {"title": "Upload"}).json()["id"]
    with open(video_path, "rb") as handle:
        response = client_user.post(f"/api/games/{game_id}/videos", {"file": handle})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "ready"
    assert body["videos"][0]["has_audio"] is True
    assert body["duration"] == pytest.approx(4.0, abs=0.1)


def test_upload_of_a_non_video_makes_the_game_invalid(client_user, tmp_path):
    bogus = tmp_path / "notes.mp4"
    bogus.write_text("this is not a video\n" * 100)
    game_id = post(client_user, "/api/games", {"title": "Bogus"}).json()["id"]
    with open(bogus, "rb") as handle:
        body = client_user.post(f"/api/games/{game_id}/videos", {"file": handle}).json()
    assert body["status"] == "invalid"
    assert body["status_reason"]
    assert body["videos"][0]["error"]


def test_clip_crud_for_owner(client_user, game):
    created = post(
        client_user,
        f"/api/games/{game.pk}/clips",
        {"start": 0.5, "end": 2.0, "name": "Goal", "rating": 5},
    )
    assert created.status_code == 201, created.content
    clip = created.json()
    assert clip["notation"] == "!!"
    assert client_user.get(f"/api/games/{game.pk}/clips").json()[0]["id"] == clip["id"]
    assert patch(client_user, f"/api/clips/{clip['id']}", {"rating": 1}).json()["notation"] == "??"
    assert client_user.delete(f"/api/clips/{clip['id']}").status_code == 204


def test_invalid_clip_is_422_with_field_errors(client_user, game):
    response = post(client_user, f"/api/games/{game.pk}/clips", {"start": 3, "end": 1, "rating": 9})
    assert response.status_code == 422
    fields = response.json()["error"]["fields"]
    assert "end" in fields and "rating" in fields
    assert not Clip.objects.exists()


def test_wrong_types_are_422(client_user, game):
    response = post(client_user, f"/api/games/{game.pk}/clips", {"start": "soon", "end": 1})
    assert response.status_code == 422
    assert "start" in response.json()["error"]["fields"]


def test_malformed_json_is_400(client_user, game):
    response = client_user.post(
        f"/api/games/{game.pk}/clips", "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_json"
    assert not Clip.objects.exists()


@pytest.fixture
def clip(game):
    return Clip.objects.create(game=game, start=0.0, end=2.0, rating=4, name="Run")


def project_body(game, clip):
    return {
        "game_id": game.pk,
        "name": "Reel",
        "aspect": "9:16",
        "clips": [
            {"clip_id": clip.pk, "crop_keyframes": [{"t": 0, "x": 0, "y": 0, "w": 101, "h": 180}]}
        ],
    }


def test_project_crud_for_owner(client_user, game, clip):
    created = post(client_user, "/api/projects", project_body(game, clip))
    assert created.status_code == 201, created.content
    project = created.json()
    assert project["version"] == 1
    assert project["clips"][0]["clip_id"] == clip.pk

    updated = patch(client_user, f"/api/projects/{project['id']}", {"version": 1, "name": "Reel 2"})
    assert updated.status_code == 200
    assert updated.json()["version"] == 2
    assert client_user.delete(f"/api/projects/{project['id']}").status_code == 204


def test_stale_project_version_is_409_and_overwrites_nothing(client_user, game, clip):
    project_id = post(client_user, "/api/projects", project_body(game, clip)).json()["id"]
    assert (
        patch(
            client_user, f"/api/projects/{project_id}", {"version": 1, "name": "Tab A"}
        ).status_code
        == 200
    )
    stale = patch(client_user, f"/api/projects/{project_id}", {"version": 1, "name": "Tab B"})
    assert stale.status_code == 409
    assert stale.json()["error"]["code"] == "version_conflict"
    project = Project.objects.get(pk=project_id)
    assert (project.name, project.version) == ("Tab A", 2)


def test_invalid_project_edit_keeps_version(client_user, game, clip):
    project_id = post(client_user, "/api/projects", project_body(game, clip)).json()["id"]
    bad = {
        "version": 1,
        "clips": [{"clip_id": clip.pk, "speed_segments": [{"start": 0, "end": 1, "speed": 9}]}],
    }
    response = patch(client_user, f"/api/projects/{project_id}", bad)
    assert response.status_code == 422
    assert "clips.0.speed_segments" in response.json()["error"]["fields"]
    assert Project.objects.get(pk=project_id).version == 1


@pytest.mark.parametrize(
    "method,url",
    [
        ("get", "/api/games/{game}"),
        ("patch", "/api/games/{game}"),
        ("delete", "/api/games/{game}"),
        ("get", "/api/games/{game}/clips"),
        ("get", "/api/clips/{clip}"),
        ("delete", "/api/clips/{clip}"),
        ("get", "/api/projects/{project}"),
        ("delete", "/api/projects/{project}"),
    ],
)
def test_another_users_objects_are_404(client, other_user, user, game, clip, method, url):
    project = Project.objects.create(owner=user, game=game, name="Mine")
    client.force_login(other_user)
    target = url.format(game=game.pk, clip=clip.pk, project=project.pk)
    if method == "get":
        response = client.get(target)
    else:
        response = getattr(client, method)(target, "{}", content_type="application/json")
    assert response.status_code == 404
    assert response.json() == {"error": {"code": "not_found", "message": "Not found."}}
    assert Game.objects.filter(pk=game.pk).exists() and Clip.objects.filter(pk=clip.pk).exists()


def test_project_with_another_users_game_is_404(client_other, game):
    response = post(client_other, "/api/projects", {"game_id": game.pk, "name": "Steal"})
    assert response.status_code == 404


def test_openapi_document_is_served(client_user):
    doc = client_user.get("/api/openapi.json").json()
    assert "/api/games" in doc["paths"]
