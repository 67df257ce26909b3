"""Downloads: owner only; Range on local files; a presigned redirect on S3."""

from __future__ import annotations

import pytest
import requests

from games import services
from games.models import GameVideo
from games.storage import local_copy

pytestmark = pytest.mark.django_db


def video_url(game):
    video = game.videos.get()
    return f"/games/{game.pk}/videos/{video.pk}/file"


def test_local_video_is_served_with_ranges(client_user, game, video_path):
    data = video_path.read_bytes()
    whole = client_user.get(video_url(game))
    assert whole.status_code == 200
    assert b"".join(whole.streaming_content) == data
    assert whole["Content-Disposition"] == 'inline; filename="match.mp4"'
    part = client_user.get(video_url(game), HTTP_RANGE="bytes=100-199")
    assert part.status_code == 206
    assert part["Content-Range"] == f"bytes 100-199/{len(data)}"
    assert b"".join(part.streaming_content) == data[100:200]
    beyond = client_user.get(video_url(game), HTTP_RANGE=f"bytes={len(data)}-")
    assert beyond.status_code == 416


def test_another_user_cannot_download(client_other, game):
    assert client_other.get(video_url(game)).status_code == 404


def test_s3_video_redirects_to_a_working_presigned_url_with_the_file_name(
    client_user, user, s3, make_game, video_path
):
    game = make_game(user, title="Derby")
    assert s3.object_keys() == [s3.key(game.videos.get().file.name)]
    response = client_user.get(video_url(game))
    assert response.status_code == 302
    url = response["Location"]
    assert url.startswith(s3.endpoint) and "X-Amz-Expires=900" in url
    fetched = requests.get(url, timeout=30)
    assert fetched.status_code == 200
    assert fetched.content == video_path.read_bytes()
    assert fetched.headers["Content-Disposition"] == 'inline; filename="match.mp4"'
    assert fetched.headers["Content-Type"] == "video/mp4"
    ranged = requests.get(url, headers={"Range": "bytes=0-9"}, timeout=30)
    assert ranged.status_code == 206 and ranged.content == video_path.read_bytes()[:10]


def test_s3_redirect_is_owner_only(client_other, s3, game):
    assert client_other.get(video_url(game)).status_code == 404


def test_local_copy_of_an_s3_file_streams_to_a_temp_file_removed_on_every_exit(
    user, s3, make_game, video_path
):
    video = make_game(user).videos.get()
    seen = []
    with local_copy(video.file, progress=lambda done, total: seen.append((done, total))) as path:
        assert path.read_bytes() == video_path.read_bytes()
        kept = path
    assert not kept.exists()
    size = video_path.stat().st_size
    assert seen[0] == (0, size) and seen[-1] == (size, size)
    with pytest.raises(RuntimeError), local_copy(video.file) as path:
        kept = path
        raise RuntimeError("render failed")
    assert not kept.exists()


def test_local_copy_of_a_local_file_is_the_file_itself(game, isolated_media):
    video = game.videos.get()
    with local_copy(video.file) as path:
        assert path == isolated_media / video.file.name
    assert path.exists()


def test_games_uploaded_through_the_app_on_s3_are_probed_and_streamed_there(
    client_user, user, s3, video_path
):
    game = services.game_create(owner=user, title="Through the app")
    response = client_user.put(
        f"/api/games/{game.pk}/upload?name=cup.mp4",
        video_path.read_bytes(),
        content_type="application/octet-stream",
    )
    assert response.json()["status"] == "ready"
    video = GameVideo.objects.get(game=game)
    assert s3.body(video.file.name) == video_path.read_bytes()
    bogus = client_user.put(
        f"/api/games/{game.pk}/upload?name=bad.mp4",
        b"nope" * 1000,
        content_type="application/octet-stream",
    )
    assert bogus.json()["videos"][1]["status"] == "invalid"
    assert s3.object_keys() == [s3.key(video.file.name)]
