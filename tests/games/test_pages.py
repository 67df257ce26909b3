from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db


def test_sign_in_page_is_served(client):
    response = client.get("/login/")
    assert response.status_code == 200
    assert b"Sign in" in response.content


def test_pages_require_sign_in(client):
    assert client.get("/").status_code == 302


def test_game_page_shows_its_player_only_to_its_owner(client, user, other_user, game):
    client.force_login(user)
    assert client.get(f"/games/{game.pk}/").status_code == 200
    client.force_login(other_user)
    assert client.get(f"/games/{game.pk}/").status_code == 404


def test_game_video_is_served_with_ranges_to_its_owner_only(client, user, other_user, game):
    video = game.videos.get()
    url = f"/games/{game.pk}/videos/{video.pk}/file"
    client.force_login(user)
    partial = client.get(url, HTTP_RANGE="bytes=0-99")
    assert partial.status_code == 206
    assert b"".join(partial.streaming_content) and partial["Content-Length"] == "100"
    assert client.get(url, HTTP_RANGE=f"bytes={video.size + 10}-").status_code == 416
    client.force_login(other_user)
    assert client.get(url).status_code == 404
