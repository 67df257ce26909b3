"""A 2 GB upload through the production (ASGI) request path holds memory flat."""

from __future__ import annotations

import asyncio
import json
import threading

import psutil
import pytest
from asgiref.sync import async_to_sync
from django.conf import settings
from django.core import signals
from django.core.handlers.asgi import ASGIHandler
from django.db import close_old_connections

from games.models import GameVideo

pytestmark = pytest.mark.django_db

BODY_BYTES = 2 * 1024**3
CHUNK = 1024 * 1024
ALLOWED_GROWTH = 32 * 1024 * 1024


class PeakRss:
    """Samples this process's resident memory in a thread until stopped."""

    def __init__(self):
        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


def asgi_put(path: str, size: int, cookies: dict[str, str], headers: dict[str, str]):
    """Send a PUT of ``size`` bytes generated on the fly to Django's ASGI handler, like daphne."""
    chunk = bytes(range(256)) * (CHUNK // 256)
    sent = 0

    async def receive():
        nonlocal sent
        if sent < size:
            sent += len(chunk)
            return {"type": "http.request", "body": chunk, "more_body": sent < size}
        await asyncio.Event().wait()  # no disconnect: the client waits for the answer

    response = {"body": b""}

    async def send(message):
        if message["type"] == "http.response.start":
            response["status"] = message["status"]
        else:
            response["body"] += message.get("body", b"")

    cookie = "; ".join(f"{k}={v}" for k, v in cookies.items())
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "PUT",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"name=big.mp4",
        "headers": [
            (b"host", b"testserver"),
            (b"content-length", str(size).encode()),
            (b"content-type", b"application/octet-stream"),
            (b"cookie", cookie.encode()),
            *((k.lower().encode(), v.encode()) for k, v in headers.items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    async_to_sync(ASGIHandler())(scope, receive, send)
    return response["status"], response["body"]


def test_a_2_gb_upload_does_not_raise_memory_by_more_than_a_few_tens_of_mb(
    client, user, isolated_media
):
    client.force_login(user)
    game_id = client.post(
        "/api/games", json.dumps({"title": "Big"}), content_type="application/json"
    ).json()["id"]
    csrf = "k" * 32
    cookies = {settings.SESSION_COOKIE_NAME: client.cookies[settings.SESSION_COOKIE_NAME].value}
    cookies[settings.CSRF_COOKIE_NAME] = csrf
    path, headers = f"/api/games/{game_id}/upload", {"X-CSRFToken": csrf}
    # Like Django's test client: the request signals must not close the test's transaction.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        # A small upload first, so one-time costs (codec libraries, thread pools) are paid.
        assert asgi_put(path, CHUNK, cookies, headers)[0] == 201
        with PeakRss() as rss:
            baseline = rss.process.memory_info().rss
            status, body = asgi_put(path, BODY_BYTES, cookies, headers)
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)

    assert status == 201, body[:500]
    game = json.loads(body)
    # Every byte arrived, was counted and hashed; not being a video, it was then thrown away.
    assert game["status"] == "invalid"
    video = GameVideo.objects.filter(game_id=game_id).latest("id")
    assert (video.expected_size, video.status) == (BODY_BYTES, "invalid")
    assert [p for p in isolated_media.rglob("*") if p.is_file()] == []
    growth = rss.peak - baseline
    assert growth < ALLOWED_GROWTH, f"memory grew by {growth / 2**20:.1f} MiB"
