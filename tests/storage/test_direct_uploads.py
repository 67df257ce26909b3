"""Direct uploads to an S3 API (moto server on loopback), sent with plain HTTP like a browser."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from games.models import Game, GameVideo
from notifications.models import Notification
from tests.storage.conftest import MIB, padded_video

pytestmark = pytest.mark.django_db


def post(client, path, body):
    return client.post(path, json.dumps(body), content_type="application/json")


def start(client, game_id, *, name="match.mp4", size, content_type="video/mp4"):
    body = {"game_id": game_id, "name": name, "size": size, "content_type": content_type}
    return post(client, "/api/uploads", body)


def new_game(client, title="Away game"):
    return post(client, "/api/games", {"title": title}).json()["id"]


def put_parts(client, started, data, numbers):
    signed = post(
        client,
        "/api/uploads/parts",
        {"key": started["key"], "upload_id": started["upload_id"], "part_numbers": numbers},
    ).json()["parts"]
    size = started["part_size"]
    for part in signed:
        n = part["part_number"]
        chunk = data[(n - 1) * size : n * size]
        response = requests.put(part["url"], data=chunk, timeout=30)
        assert response.status_code == 200, response.text
        assert response.headers["ETag"]


def test_upload_config_says_direct_mode_is_on(client_user, s3):
    config = client_user.get("/api/uploads/config").json()
    assert config == {
        "direct": True,
        "multipart_threshold": 6 * MIB,
        "part_size": 5 * MIB,
        "max_bytes": config["max_bytes"],
    }
    assert GameVideo.file.field.storage.__class__.__name__ == "S3Storage"


def test_upload_config_says_direct_mode_is_off_on_local_storage(client_user):
    assert client_user.get("/api/uploads/config").json()["direct"] is False
    response = start(client_user, new_game(client_user), size=1000)
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "direct_uploads_off"


def test_presigned_put_then_confirm_makes_the_game_ready(client_user, user, s3, video_path):
    game_id = new_game(client_user)
    data = video_path.read_bytes()
    started = start(client_user, game_id, size=len(data)).json()
    assert started["mode"] == "single"
    assert started["key"].startswith(f"u{user.pk}/games/{game_id}/")
    assert client_user.get(f"/api/games/{game_id}").json()["status"] == "uploading"

    response = requests.put(started["url"], data=data, headers=started["headers"], timeout=30)
    assert response.status_code == 200, response.text

    confirmed = post(client_user, "/api/uploads/confirm", {"key": started["key"]})
    assert confirmed.status_code == 200, confirmed.content
    game = confirmed.json()
    assert game["status"] == "ready"
    video = game["videos"][0]
    assert (video["width"], video["height"], video["has_audio"]) == (320, 180, True)
    assert video["duration"] == pytest.approx(4.0, abs=0.1)
    assert video["size"] == len(data)
    assert s3.object_keys() == [s3.key(started["key"])]
    stored = GameVideo.objects.get(pk=started["video_id"])
    assert stored.sha256 == hashlib.sha256(data).hexdigest()
    note = Notification.objects.get(user=user, kind="upload.completed")
    assert note.data["game_id"] == game_id
    assert [(a["label"], a["url"]) for a in note.actions] == [("Open game", f"/games/{game_id}/")]
    # Confirming again answers the same, without a second notification.
    again = post(client_user, "/api/uploads/confirm", {"key": started["key"]})
    assert again.json()["status"] == "ready"
    assert Notification.objects.filter(user=user, kind="upload.completed").count() == 1


def test_multipart_upload_interrupted_resumes_and_is_byte_identical(
    client_user, s3, video_path, tmp_path
):
    source = padded_video(video_path, tmp_path / "long.mp4", size=13 * MIB + 12345)
    data = source.read_bytes()
    game_id = new_game(client_user)
    started = start(client_user, game_id, size=len(data)).json()
    assert started["mode"] == "multipart"
    assert (started["part_count"], started["part_size"]) == (3, 5 * MIB)

    put_parts(client_user, started, data, [1])  # ...then the network drops, the tab reloads.

    query = {"key": started["key"], "upload_id": started["upload_id"]}
    state = client_user.get("/api/uploads/parts", query).json()
    assert [p["part_number"] for p in state["parts"]] == [1]
    assert state["missing"] == [2, 3]
    early = post(client_user, "/api/uploads/confirm", query)
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "upload_incomplete"
    assert GameVideo.objects.get(pk=started["video_id"]).status == "uploading"

    put_parts(client_user, started, data, state["missing"])
    assert client_user.get("/api/uploads/parts", query).json()["missing"] == []
    confirmed = post(client_user, "/api/uploads/confirm", query)
    assert confirmed.status_code == 200, confirmed.content
    assert confirmed.json()["status"] == "ready"
    assert s3.body(started["key"]) == data
    assert s3.multipart_uploads() == []


def test_same_file_uploaded_twice_by_one_owner_is_stored_once(client_user, s3, video_path):
    data = video_path.read_bytes()
    keys = []
    for title in ("First", "Second"):
        started = start(client_user, new_game(client_user, title), size=len(data)).json()
        requests.put(started["url"], data=data, headers=started["headers"], timeout=30)
        assert (
            post(client_user, "/api/uploads/confirm", {"key": started["key"]}).json()["status"]
            == "ready"
        )
        keys.append(started["key"])
    assert s3.object_keys() == [s3.key(keys[0])]
    names = set(GameVideo.objects.values_list("file", flat=True))
    assert names == {keys[0]}
    # Deleting the game that first stored it keeps the bytes the other game still uses.
    first = Game.objects.get(title="First")
    assert client_user.delete(f"/api/games/{first.pk}").status_code == 204
    assert s3.object_keys() == [s3.key(keys[0])]
    second = Game.objects.get(title="Second")
    assert client_user.delete(f"/api/games/{second.pk}").status_code == 204
    assert s3.object_keys() == []


def test_a_direct_upload_that_is_not_a_video_is_removed_and_the_game_invalid(client_user, user, s3):
    data = b"not a video at all\n" * 500
    game_id = new_game(client_user)
    started = start(client_user, game_id, name="notes.mp4", size=len(data)).json()
    requests.put(started["url"], data=data, headers=started["headers"], timeout=30)
    game = post(client_user, "/api/uploads/confirm", {"key": started["key"]}).json()
    assert game["status"] == "invalid"
    assert "not a video" in game["status_reason"]
    assert s3.object_keys() == []
    assert Notification.objects.filter(user=user, kind="upload.failed").count() == 1


def test_an_object_of_another_size_than_announced_is_rejected(client_user, s3, video_path):
    data = video_path.read_bytes()
    started = start(client_user, new_game(client_user), size=len(data) + 10).json()
    requests.put(started["url"], data=data, headers=started["headers"], timeout=30)
    game = post(client_user, "/api/uploads/confirm", {"key": started["key"]}).json()
    assert game["status"] == "invalid"
    assert f"{len(data)} bytes" in game["videos"][0]["error"]
    assert s3.object_keys() == []


def test_confirm_before_the_put_finished_changes_nothing(client_user, s3, video_path):
    data = video_path.read_bytes()
    started = start(client_user, new_game(client_user), size=len(data)).json()
    early = post(client_user, "/api/uploads/confirm", {"key": started["key"]})
    assert early.status_code == 409
    assert early.json()["error"] == {
        "code": "upload_incomplete",
        "message": "The file has not arrived in storage yet; finish the upload.",
    }
    assert GameVideo.objects.get(pk=started["video_id"]).status == "uploading"
    requests.put(started["url"], data=data, headers=started["headers"], timeout=30)
    late = post(client_user, "/api/uploads/confirm", {"key": started["key"]})
    assert late.json()["status"] == "ready"


def test_a_file_over_the_limit_is_refused_before_anything_is_made(client_user, s3, settings):
    settings.UPLOAD_MAX_BYTES = 10 * MIB
    game_id = new_game(client_user)
    response = start(client_user, game_id, size=10 * MIB + 1)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert "10 MB" in response.json()["error"]["message"]
    assert not GameVideo.objects.exists()
    assert s3.multipart_uploads() == []


def test_a_key_under_another_owners_prefix_is_refused(client_user, other_user, s3, user):
    stranger = f"u{other_user.pk}/games/1/v1-match.mp4"
    for path, body in (
        ("/api/uploads/confirm", {"key": stranger}),
        ("/api/uploads/parts", {"key": stranger, "part_numbers": [1]}),
        ("/api/uploads/abort", {"key": stranger}),
        ("/api/uploads/confirm", {"key": f"u{user.pk}/../u{other_user.pk}/games/1/x.mp4"}),
    ):
        response = post(client_user, path, body)
        assert response.status_code == 403, (path, response.content)
        assert response.json()["error"]["code"] == "key_outside_prefix"
    response = client_user.get("/api/uploads/parts", {"key": stranger})
    assert response.status_code == 403


def test_another_users_upload_is_not_found(client, user, other_user, s3, video_path):
    client.force_login(user)
    started = start(client, new_game(client), size=video_path.stat().st_size).json()
    client.force_login(other_user)
    response = post(client, "/api/uploads/confirm", {"key": started["key"]})
    assert response.status_code == 403  # the key is under the owner's prefix, not theirs
    response = start(client, started["game_id"], size=100)
    assert response.status_code == 404


def test_part_numbers_out_of_range_are_refused(client_user, s3):
    started = start(client_user, new_game(client_user), size=12 * MIB).json()
    errors = {}
    for numbers in ([0], [4], [1, 2, 99], []):
        response = post(
            client_user,
            "/api/uploads/parts",
            {"key": started["key"], "upload_id": started["upload_id"], "part_numbers": numbers},
        )
        assert response.status_code == 422, numbers
        assert "part_numbers" in response.json()["error"]["fields"]
        errors[str(numbers)] = response.json()["error"]["message"]
    assert errors["[4]"] == "Part 4 is out of range: this upload has parts 1 to 3."
    assert errors["[1, 2, 99]"].startswith("Part 99 is out of range")


def test_abort_removes_the_parts_and_the_video(client_user, s3, video_path, tmp_path):
    source = padded_video(video_path, tmp_path / "long.mp4", size=11 * MIB)
    data = source.read_bytes()
    game_id = new_game(client_user)
    started = start(client_user, game_id, size=len(data)).json()
    put_parts(client_user, started, data, [1])
    response = post(client_user, "/api/uploads/abort", {"key": started["key"]})
    assert response.status_code == 204
    assert s3.multipart_uploads() == []
    assert s3.object_keys() == []
    assert not GameVideo.objects.filter(pk=started["video_id"]).exists()
