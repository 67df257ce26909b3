"""Fixtures shared by every test: users, signed-in clients, generated media, Redis."""

from __future__ import annotations

import shutil

import pytest
from django.conf import settings

from tests.support.media import cached_video


@pytest.fixture(scope="session", autouse=True)
def running_redis():
    """The channel layer's Redis: the machine's (REDIS_URL) or the embedded one, started here."""
    if settings.configured and settings.REDIS_EMBEDDED:
        from config import embedded_redis

        embedded_redis.ensure_running()
    yield settings.REDIS_URL if settings.configured else None


@pytest.fixture(scope="session", autouse=True)
def clean_test_run_folder():
    yield
    if settings.configured:
        shutil.rmtree(settings.TEST_VAR_DIR, ignore_errors=True)


@pytest.fixture(autouse=True)
def isolated_media(request, tmp_path):
    """Each test stores files in its own MEDIA_ROOT (skipped when Django is not loaded)."""
    if not settings.configured:
        return None
    django_settings = request.getfixturevalue("settings")
    django_settings.MEDIA_ROOT = tmp_path / "media"
    django_settings.MEDIA_ROOT.mkdir()
    return django_settings.MEDIA_ROOT


@pytest.fixture
def user(django_user_model):
    return django_user_model.objects.create_user("coach", password="pw-coach-123")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("rival", password="pw-rival-123")


@pytest.fixture
def client_user(client, user):
    client.force_login(user)
    return client


@pytest.fixture
def client_other(client, other_user):
    client.force_login(other_user)
    return client


@pytest.fixture(scope="session")
def video_path():
    """4 s of testsrc2 with a tone, 320x180 at 25 fps."""
    return cached_video("testsrc", seconds=4, width=320, height=180, fps=25, audio=True)


@pytest.fixture(scope="session")
def silent_video_path():
    return cached_video("silent", seconds=3, width=320, height=180, fps=25, audio=False)


@pytest.fixture(scope="session")
def rotated_video_path():
    return cached_video("rotated", seconds=2, width=320, height=180, fps=25, rotation=90)


@pytest.fixture
def make_game(db):
    """Create a ready game for a user from a generated video file."""
    from games import services

    def _make(owner, *, path=None, title: str = "Cup final"):
        from tests.support.media import cached_video

        path = path or cached_video("testsrc", seconds=4, width=320, height=180, fps=25, audio=True)
        game = services.game_create(owner=owner, title=title)
        with open(path, "rb") as handle:
            services.game_video_add(game=game, file_obj=handle, name="match.mp4")
        game.refresh_from_db()
        return game

    return _make


@pytest.fixture
def game(make_game, user):
    return make_game(user)
