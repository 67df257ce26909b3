"""Uploads through the app on local storage: streamed to disk, checked, deduplicated."""

from __future__ import annotations

import io
import json

import pytest

from config.errors import ApiError
from games import uploads
from games.models import Game, GameVideo
from notifications.models import Notification

pytestmark = pytest.mark.django_db


def new_game(client, title="Home game"):
    body = json.dumps({"title": title})
    return client.post("/api/games", body, content_type="application/json").json()["id"]


def put_body(client, game_id, data: bytes, name="match.mp4"):
    return client.put(
        f"/api/games/{game_id}/upload?name={name}", data, content_type="application/octet-stream"
    )


def stored_files(media_root):
    return sorted(str(p.relative_to(media_root)) for p in media_root.rglob("*") if p.is_file())


def test_raw_put_streams_probes_and_stores_under_the_owner_prefix(
    client_user, user, video_path, isolated_media
):
    game_id = new_game(client_user)
    response = put_body(client_user, game_id, video_path.read_bytes())
    assert response.status_code == 201, response.content
    game = response.json()
    assert game["status"] == "ready"
    assert game["videos"][0]["original_name"] == "match.mp4"
    assert game["videos"][0]["duration"] == pytest.approx(4.0, abs=0.1)
    assert stored_files(isolated_media) == [f"u{user.pk}/games/{game_id}/match.mp4"]
    assert Notification.objects.filter(user=user, kind="upload.completed").count() == 1


def test_raw_put_of_a_non_video_makes_the_game_invalid_and_keeps_no_bytes(
    client_user, user, isolated_media
):
    game_id = new_game(client_user)
    game = put_body(client_user, game_id, b"\x00garbage" * 4000, name="clip.mp4").json()
    assert game["status"] == "invalid"
    assert game["status_reason"] == "The file is not a video we can read."
    assert stored_files(isolated_media) == []
    assert Notification.objects.get(user=user, kind="upload.failed").level == "error"


def test_raw_put_over_the_limit_is_refused_and_leaves_nothing(
    client_user, settings, video_path, isolated_media
):
    settings.UPLOAD_MAX_BYTES = 1000
    game_id = new_game(client_user)
    response = put_body(client_user, game_id, video_path.read_bytes())
    assert response.status_code == 413
    assert response.json()["error"] == {
        "code": "too_large",
        "message": "The file is larger than the upload limit of 1000 bytes.",
    }
    assert not GameVideo.objects.exists()
    assert stored_files(isolated_media) == []


def test_a_body_running_past_the_limit_without_a_length_is_cut_off(settings, isolated_media):
    settings.UPLOAD_MAX_BYTES = 3 * 1024 * 1024
    body = io.BytesIO(b"x" * (5 * 1024 * 1024))
    with pytest.raises(ApiError) as caught:
        uploads.receive_stream(read=body.read, length=None)
    assert caught.value.status == 413
    assert body.tell() <= 4 * 1024 * 1024  # stopped reading soon after the limit
    assert stored_files(isolated_media) == []


def test_a_body_shorter_than_its_content_length_is_refused(isolated_media):
    with pytest.raises(ApiError) as caught:
        uploads.receive_stream(read=io.BytesIO(b"abc").read, length=10)
    assert (caught.value.status, caught.value.code) == (400, "incomplete_body")
    assert stored_files(isolated_media) == []


def test_multipart_form_upload_over_the_limit_is_refused(client_user, settings, video_path):
    settings.UPLOAD_MAX_BYTES = 1000
    game_id = new_game(client_user)
    with open(video_path, "rb") as handle:
        response = client_user.post(f"/api/games/{game_id}/videos", {"file": handle})
    assert response.status_code == 413
    assert not GameVideo.objects.exists()


def test_the_same_file_twice_is_stored_once_and_survives_deleting_one_game(
    client_user, user, video_path, isolated_media
):
    first, second = new_game(client_user, "First"), new_game(client_user, "Second")
    assert put_body(client_user, first, video_path.read_bytes()).json()["status"] == "ready"
    with open(video_path, "rb") as handle:
        response = client_user.post(
            f"/api/games/{second}/videos", {"file": handle, "name": "again.mp4"}
        )
    assert response.json()["status"] == "ready"
    assert response.json()["videos"][0]["width"] == 320
    assert stored_files(isolated_media) == [f"u{user.pk}/games/{first}/match.mp4"]
    assert client_user.delete(f"/api/games/{first}").status_code == 204
    assert stored_files(isolated_media) == [f"u{user.pk}/games/{first}/match.mp4"]
    assert Game.objects.get(pk=second).status == "ready"
    assert client_user.delete(f"/api/games/{second}").status_code == 204
    assert stored_files(isolated_media) == []


def test_the_same_file_from_two_owners_is_stored_twice(
    client, user, other_user, video_path, isolated_media
):
    for owner in (user, other_user):
        client.force_login(owner)
        assert put_body(client, new_game(client), video_path.read_bytes()).status_code == 201
    assert len(stored_files(isolated_media)) == 2


def test_another_users_game_cannot_receive_uploads(client, user, other_user, video_path):
    client.force_login(user)
    game_id = new_game(client)
    client.force_login(other_user)
    response = put_body(client, game_id, video_path.read_bytes())
    assert response.status_code == 404
    assert not GameVideo.objects.exists()
