"""Page views: owner-only, forms that report what is wrong, fragments the scripts re-fetch."""

from __future__ import annotations

import pytest

from exports.models import ExportJob
from games.models import Project

pytestmark = pytest.mark.django_db


def test_every_page_has_the_bell_the_indicator_and_the_toast_stack(client_user, game):
    for url in ("/", f"/games/{game.pk}/", "/projects/", "/exports/"):
        html = client_user.get(url).content.decode()
        assert 'data-role="bell-button"' in html, url
        assert 'id="export-indicator"' in html, url
        assert 'id="toasts" class="toasts" aria-live="polite"' in html, url
        assert "reelforge/app.js" in html, url


def test_action_buttons_stay_disabled_until_the_page_script_wires_them(client_user, game):
    """A click before the module script has run would do nothing: the button cannot take it."""
    from games import services

    project = services.project_create(owner=game.owner, game=game, name="Reel")
    pages = {
        f"/games/{game.pk}/": ['data-role="mark-start" disabled', 'data-role="annotate" disabled'],
        f"/projects/{project.pk}/": [
            'data-role="export-framing" disabled',
            'data-role="export-overlay" disabled',
        ],
    }
    for url, buttons in pages.items():
        html = client_user.get(url).content.decode()
        for button in buttons:
            assert button in html, (url, button)


def test_project_is_created_from_chosen_clips_in_game_order(client_user, user, game):
    from games import services

    late = services.clip_create(game=game, start=2.0, end=3.0, name="Late")
    early = services.clip_create(game=game, start=0.5, end=1.5, name="Early")
    response = client_user.post(
        f"/games/{game.pk}/projects/new",
        {"name": "Reel", "aspect": "1:1", "clips": [late.pk, early.pk]},
    )
    project = Project.objects.get(owner=user, name="Reel")
    assert response.status_code == 302 and response["Location"] == f"/projects/{project.pk}/"
    assert project.aspect == "1:1"
    assert [pc.clip_id for pc in project.project_clips.all()] == [early.pk, late.pk]


def test_project_form_without_clips_says_so_and_keeps_the_name(client_user, user, game):
    response = client_user.post(f"/games/{game.pk}/projects/new", {"name": "Keep me"})
    assert response.status_code == 400
    assert b"Choose at least one clip." in response.content
    assert b'value="Keep me"' in response.content
    assert not Project.objects.filter(owner=user).exists()


def test_another_users_game_and_project_pages_are_not_found(client, other_user, game):
    from games import services

    project = services.project_create(owner=game.owner, game=game, name="Mine")
    client.force_login(other_user)
    assert client.get(f"/games/{game.pk}/clips").status_code == 404
    assert client.get(f"/projects/{project.pk}/").status_code == 404
    assert client.get(f"/projects/{project.pk}/outputs").status_code == 404
    assert client.post(f"/games/{game.pk}/projects/new", {"name": "x"}).status_code == 404


def test_export_rows_show_the_error_of_a_failed_export_and_its_retry(client_user, user, game):
    ExportJob.objects.create(
        owner=user, kind="annotate", game=game, status="error", error="Disk full"
    )
    html = client_user.get("/exports/rows").content.decode()
    assert "Disk full" in html
    assert 'data-job-action="retry"' in html


def test_the_form_upload_without_javascript_makes_a_ready_game(client_user, user, video_path):
    with open(video_path, "rb") as handle:
        response = client_user.post("/games/new", {"title": "Plain", "file": handle})
    game = user.games.get(title="Plain")
    assert response.status_code == 302 and game.status == "ready"


def test_the_form_upload_of_a_text_file_says_why_it_cannot_be_used(client_user, user, tmp_path):
    bad = tmp_path / "notes.mp4"
    bad.write_text("not a video")
    with open(bad, "rb") as handle:
        response = client_user.post("/games/new", {"title": "Bad", "file": handle}, follow=True)
    assert "could not be used" in response.content.decode()
    assert user.games.get(title="Bad").status == "invalid"
