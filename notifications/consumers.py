"""The notification hub's WebSocket consumer at /ws/notifications (protocol: docs/hub.md).

Thin: it parses frames, checks them, and calls services through small
``database_sync_to_async`` helpers. Frames from producers arrive pre-encoded from the
channel layer and are forwarded as they are, without touching the database.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from typing import Any

from channels.consumer import get_handler_name
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from config.errors import ApiError
from notifications import services

logger = logging.getLogger(__name__)

CLOSE_UNAUTHENTICATED = 4401
CLOSE_IDLE = 4408


@database_sync_to_async
def _snapshot(user_id: int, since: int) -> dict[str, Any]:
    return services.hub_snapshot(user=user_id, since=since)


@database_sync_to_async
def _mark(user_id: int, what: str, ids: Any) -> int:
    if what == "seen":
        return services.notifications_mark_seen(user=user_id, ids=ids)
    if what == "read":
        return services.notifications_mark_read(user=user_id, ids=ids)
    return services.notifications_mark_all_read(user=user_id)


class NotificationConsumer(AsyncWebsocketConsumer):
    user_id: int | None = None
    group: str | None = None

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels' dispatch runs close_old_connections in a thread before every handler,
        # a thread hop for each broadcast frame (DESIGN.md "Pitfalls"). No handler here
        # touches the database outside database_sync_to_async, which does that itself.
        handler = getattr(self, get_handler_name(message), None)
        if handler is None:
            raise ValueError(f"No handler for message type {message['type']}")
        await handler(message)

    # --- lifecycle --------------------------------------------------------------------

    async def connect(self) -> None:
        user = self.scope.get("user")
        # Accept first, then close: a browser sees 4401 (sign in again) instead of a failed
        # handshake it would retry for ever.
        await self.accept()
        if user is None or not user.is_authenticated:
            await self.close(code=CLOSE_UNAUTHENTICATED)
            return
        self.user_id = user.pk
        self.group = services.user_group(user.pk)
        self._replayed: set[int] = set()
        await self.channel_layer.group_add(self.group, self.channel_name)
        loop = asyncio.get_running_loop()
        self._last_heard = self._last_sent = loop.time()
        self._keepalive = asyncio.create_task(self._keep_alive())

    async def disconnect(self, code: int) -> None:
        keepalive = getattr(self, "_keepalive", None)
        if keepalive is not None:
            keepalive.cancel()
        if self.group:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def send_frame(self, frame: dict[str, Any]) -> None:
        await self.send_text(json.dumps(frame))

    async def send_text(self, text: str) -> None:
        self._last_sent = asyncio.get_running_loop().time()
        await self.send(text_data=text)

    async def _keep_alive(self) -> None:
        """Ping a quiet socket; close one whose client has said nothing for too long.

        Every tab reconnects at once after a deploy or a network blip; pinging each
        ``interval`` from its connect would keep those thousands of pings (and pongs)
        in lockstep for ever, a burst that delays every frame queued behind it. So the
        first check comes at a random moment of the second half of the first interval.
        """
        loop = asyncio.get_running_loop()
        interval = settings.HUB_PING_SECONDS
        timeout = settings.HUB_CLIENT_TIMEOUT_SECONDS
        checked = loop.time()
        wait = interval * random.uniform(0.5, 1.0)
        try:
            while True:
                until_timeout = timeout - (loop.time() - self._last_heard)
                await asyncio.sleep(max(min(wait, until_timeout), 0.01))
                now = loop.time()
                if now - self._last_heard >= timeout:
                    await self.close(code=CLOSE_IDLE)
                    return
                # Ping when either side has been quiet since the last check: a quiet server
                # keeps proxies from closing the socket, a quiet client is asked for the
                # pong that proves it is alive (also while the server is busy sending it
                # frames).
                if min(self._last_sent, self._last_heard) <= checked:
                    await self.send_frame({"type": "ping"})
                checked, wait = now, interval
        except asyncio.CancelledError:
            pass
        except Exception:  # the socket is already gone; its disconnect cleans up
            logger.debug("Keep-alive stopped", exc_info=True)

    # --- frames from the client -------------------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if self.user_id is None:
            return  # closing (unauthenticated); nothing a client sends matters
        self._last_heard = asyncio.get_running_loop().time()
        if text_data is None:
            await self.send_error("bad_frame", "Frames are JSON text, not binary.")
            return
        if len(text_data) > settings.HUB_MAX_FRAME_BYTES:
            await self.send_error("too_large", "The frame is too large.")
            return
        try:
            content = json.loads(text_data)
        except ValueError:
            await self.send_error("bad_frame", "The frame is not valid JSON.")
            return
        kind = content.get("type") if isinstance(content, dict) else None
        handler = self.FRAME_HANDLERS.get(kind) if isinstance(kind, str) else None
        if handler is None:
            code = "unknown_type" if isinstance(kind, str) else "bad_frame"
            await self.send_error(code, "Expected a JSON object with a known type.", kind)
            return
        try:
            await handler(self, content)
        except ApiError as exc:
            await self.send_error(exc.code, exc.message, kind, exc.fields)
        except Exception:
            # A frame must never take the socket down; the client gets an answer, the
            # operator the traceback.
            logger.exception("Hub frame %s from user %s failed", kind, self.user_id)
            await self.send_error("server_error", "That did not work; try again.", kind)

    async def send_error(
        self, code: str, message: str, frame_type: Any = None, fields: dict | None = None
    ) -> None:
        error: dict[str, Any] = {"type": "error", "code": code, "message": message}
        if isinstance(frame_type, str):
            error["for"] = frame_type[:32]
        if fields:
            error["fields"] = fields
        await self.send_frame(error)

    async def on_hello(self, content: dict[str, Any]) -> None:
        since = content.get("since", 0)
        if since is None:
            since = 0
        if not isinstance(since, int) or isinstance(since, bool) or since < 0:
            raise ApiError(422, "invalid", "since is the last notification id you know, or 0.")
        snapshot = await _snapshot(self.user_id, since)
        # A notification committed just before this snapshot can also be on its way through
        # the group; the ids sent here are not sent again.
        self._replayed = {n["id"] for n in snapshot["notifications"]}
        await self.send_frame(snapshot)

    async def on_seen(self, content: dict[str, Any]) -> None:
        await _mark(self.user_id, "seen", content.get("ids"))

    async def on_read(self, content: dict[str, Any]) -> None:
        await _mark(self.user_id, "read", content.get("ids"))

    async def on_read_all(self, content: dict[str, Any]) -> None:
        await _mark(self.user_id, "read_all", None)

    async def on_ping(self, content: dict[str, Any]) -> None:
        await self.send_frame({"type": "pong"})

    async def on_pong(self, content: dict[str, Any]) -> None:
        pass  # being heard is all a pong is for

    FRAME_HANDLERS = {
        "hello": on_hello,
        "seen": on_seen,
        "read": on_read,
        "read_all": on_read_all,
        "ping": on_ping,
        "pong": on_pong,
    }

    # --- frames from producers (channel-layer events) ---------------------------------

    async def hub_frame(self, event: dict[str, Any]) -> None:
        await self.send_text(event["text"])

    async def hub_notification(self, event: dict[str, Any]) -> None:
        if event["id"] in self._replayed:
            self._replayed.discard(event["id"])
            return
        await self.send_text(event["text"])
