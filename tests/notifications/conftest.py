"""Hub fixtures: both channel layers, signed-in sockets, and a clean throttle per test."""

from __future__ import annotations

import asyncio
import copy
import uuid

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.db import connections
from django.test import Client

from notifications import services
from notifications.publisher import publisher

ORIGIN = "http://testserver"


@pytest.fixture(autouse=True)
def fresh_throttle():
    """Each test gets its own job throttle (its state must not leak between tests)."""
    services._throttle = None
    yield
    services._throttle = None


@pytest.fixture(params=["memory", "redis"])
async def hub_layer(request, settings):
    """Run a hub test on channels' in-memory layer and on the configured Redis layer.

    The Redis layer is the real one (the machine's REDIS_URL, or the embedded Redis),
    with a prefix of its own so that tests never see each other's groups.
    """
    if request.param == "memory":
        settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
        # The in-memory layer's queues belong to this test's loop: publish on it.
        publisher.bind_loop(asyncio.get_running_loop())
    else:
        layer = copy.deepcopy(django_settings.CHANNEL_LAYERS["default"])
        layer["CONFIG"]["prefix"] = f"{layer['CONFIG']['prefix']}-{uuid.uuid4().hex[:8]}"
        settings.CHANNEL_LAYERS = {"default": layer}
    yield request.param
    # The consumer's database_sync_to_async thread keeps its connection (CONN_MAX_AGE);
    # close it, or PostgreSQL cannot drop the test database at the end.
    await sync_to_async(connections.close_all)()
    if request.param == "memory":
        publisher.unbind_loop()
    else:
        await asyncio.get_running_loop().run_in_executor(None, publisher.flush, 5.0)


def session_cookie(user) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[django_settings.SESSION_COOKIE_NAME].value


@pytest.fixture
def user_cookie(user) -> str:
    return session_cookie(user)


@pytest.fixture
def other_cookie(other_user) -> str:
    return session_cookie(other_user)


@pytest.fixture
async def sockets():
    """Open hub sockets like a browser tab would; every one is closed after the test."""
    from config.asgi import application

    opened: list[WebsocketCommunicator] = []

    async def open_socket(cookie: str | None, *, origin: str = ORIGIN, hello: int | None = None):
        headers = [(b"origin", origin.encode())]
        if cookie:
            headers.append((b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={cookie}".encode()))
        socket = WebsocketCommunicator(application, "/ws/notifications", headers=headers)
        opened.append(socket)
        connected, _ = await socket.connect(timeout=5)
        socket.connected = connected
        if connected and hello is not None:
            await socket.send_json_to({"type": "hello", "since": hello})
            socket.snapshot = await socket.receive_json_from(timeout=5)
            assert socket.snapshot["type"] == "snapshot"
        return socket

    yield open_socket
    for socket in opened:
        await socket.disconnect()


async def frames_until(socket, predicate, *, timeout: float = 5.0) -> list[dict]:
    """Every frame the socket receives up to and including the first matching ``predicate``."""
    frames = []
    while True:
        frame = await socket.receive_json_from(timeout=timeout)
        frames.append(frame)
        if predicate(frame):
            return frames
