"""Drive a real hub: a daphne process, many signed-in users, many sockets.

Used by the live hub test and by ``bench/hub.py``; not imported by the app itself.
Sockets speak the hub protocol like a browser tab: they send ``hello``, answer the
server's ``ping`` and record every frame with the time it arrived.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parent.parent


def raise_fd_limit(wanted: int) -> int:
    """Raise this process's open-file limit (children inherit it); returns the new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def create_signed_in_users(count: int, *, prefix: str) -> list[tuple[int, str]]:
    """``count`` users, each with a database session; returns ``(user_id, session_key)``."""
    from django.conf import settings
    from django.contrib.auth import (
        BACKEND_SESSION_KEY,
        HASH_SESSION_KEY,
        SESSION_KEY,
        get_user_model,
    )
    from django.contrib.auth.hashers import make_password
    from django.contrib.sessions.backends.db import SessionStore
    from django.contrib.sessions.models import Session
    from django.utils import timezone

    user_model = get_user_model()
    password = make_password(None)  # unusable; these users only ever have a session
    user_model.objects.bulk_create(
        user_model(username=f"{prefix}{i}", password=password) for i in range(count)
    )
    users = list(user_model.objects.filter(username__startswith=prefix).order_by("pk"))
    store = SessionStore()
    expires = timezone.now() + timedelta(seconds=settings.SESSION_COOKIE_AGE)
    backend = "django.contrib.auth.backends.ModelBackend"
    sessions = [
        Session(
            session_key=secrets.token_hex(16),
            session_data=store.encode(
                {
                    SESSION_KEY: str(user.pk),
                    BACKEND_SESSION_KEY: backend,
                    HASH_SESSION_KEY: user.get_session_auth_hash(),
                }
            ),
            expire_date=expires,
        )
        for user in users
    ]
    Session.objects.bulk_create(sessions)
    return [(user.pk, s.session_key) for user, s in zip(users, sessions, strict=True)]


class Daphne:
    """One daphne process serving config.asgi on a free port, in its own process group."""

    def __init__(self, *, env: dict[str, str] | None = None, log_path: Path | None = None):
        self.port = free_port()
        self.env = {**os.environ, **(env or {})}
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/notifications"

    def start(self, timeout: float = 60.0) -> Daphne:
        daphne = str(Path(sys.executable).with_name("daphne"))
        log = open(self.log_path, "wb") if self.log_path else subprocess.DEVNULL  # noqa: SIM115
        self.process = subprocess.Popen(
            [daphne, "-b", "127.0.0.1", "-p", str(self.port), "config.asgi:application"],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"daphne exited with {self.process.returncode}")
            try:
                urllib.request.urlopen(f"{self.origin}/login/", timeout=2).close()
                return self
            except OSError:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("daphne did not start")

    def rss_bytes(self) -> int:
        import psutil

        return psutil.Process(self.process.pid).memory_info().rss

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=5)

    def __enter__(self) -> Daphne:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


@dataclass
class HubSocket:
    """One tab: its frames (with arrival times) and how it ended, if it did."""

    user_id: int
    ws: Any = None
    frames: list[tuple[float, dict]] = field(default_factory=list)
    closed_code: int | None = None
    reader: asyncio.Task | None = None
    arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def of_type(self, kind: str) -> list[tuple[float, dict]]:
        return [(t, f) for t, f in self.frames if f.get("type") == kind]


async def _read(hub_socket: HubSocket) -> None:
    import aiohttp

    async for message in hub_socket.ws:
        if message.type != aiohttp.WSMsgType.TEXT:
            continue
        frame = json.loads(message.data)
        hub_socket.frames.append((time.perf_counter(), frame))
        hub_socket.arrived.set()
        if frame.get("type") == "ping":
            await hub_socket.ws.send_str('{"type": "pong"}')
    hub_socket.closed_code = hub_socket.ws.close_code


async def _first_frame_but_pings(ws: Any, *, timeout: float) -> dict[str, Any]:
    """The first frame that is not a ``ping`` (a ping may come at any time; answer it)."""
    while True:
        frame = json.loads((await ws.receive(timeout=timeout)).data)
        if frame.get("type") != "ping":
            return frame
        await ws.send_str('{"type": "pong"}')


async def open_sockets(
    session: Any,
    daphne: Daphne,
    users: list[tuple[int, str]],
    *,
    concurrency: int = 50,
) -> tuple[list[HubSocket], list[str]]:
    """Connect one socket per ``(user_id, session_key)`` and say hello; returns the sockets
    that are open (each with a reader task) and the failures as text."""
    gate = asyncio.Semaphore(concurrency)
    sockets: list[HubSocket] = []
    failures: list[str] = []

    async def connect(user_id: int, session_key: str) -> None:
        async with gate:
            try:
                ws = await session.ws_connect(
                    daphne.ws_url,
                    origin=daphne.origin,
                    headers={"Cookie": f"sessionid={session_key}"},
                    autoping=True,
                )
                await ws.send_str('{"type": "hello", "since": 0}')
                snapshot = await _first_frame_but_pings(ws, timeout=30)
                if snapshot.get("type") != "snapshot":
                    raise RuntimeError(f"expected a snapshot, got {snapshot}")
            except Exception as exc:  # noqa: BLE001 - every failure is reported to the caller
                failures.append(f"user {user_id}: {exc!r}")
                return
            hub_socket = HubSocket(user_id=user_id, ws=ws)
            hub_socket.reader = asyncio.create_task(_read(hub_socket))
            sockets.append(hub_socket)

    await asyncio.gather(*(connect(user_id, key) for user_id, key in users))
    return sockets, failures


async def close_sockets(sockets: list[HubSocket]) -> None:
    await asyncio.gather(*(s.ws.close() for s in sockets), return_exceptions=True)
    await asyncio.gather(*(s.reader for s in sockets), return_exceptions=True)


def produce(argv: list[str]) -> dict[str, Any]:
    """A producer process, like a queue worker: ``broadcast <username prefix>`` sends one
    notification to each matching user in one transaction; ``jobs <owner id> <count>
    <first id>`` publishes job frames 10 ms apart. Returns perf_counter marks (the
    monotonic clock every process on the machine shares)."""
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction

    from exports.models import ExportJob
    from notifications import services
    from notifications.publisher import publisher

    marks: dict[str, Any] = {}
    # A worker's publisher is long-lived: start its thread and connections before timing.
    publisher.send("hub.warmup", {"type": "hub.frame", "text": "{}"})
    publisher.flush(timeout=10)
    if argv[0] == "broadcast":
        users = get_user_model().objects.filter(username__startswith=argv[1]).order_by("pk")
        user_ids = list(users.values_list("pk", flat=True))
        with transaction.atomic():
            # Registered first, so it runs right after the commit, before the pushes.
            transaction.on_commit(lambda: marks.setdefault("commit", time.perf_counter()))
            for user_id in user_ids:
                services.notify(user=user_id, kind="info", title="Broadcast")
        publisher.flush(timeout=60)
        marks["pushed"] = time.perf_counter()
    elif argv[0] == "jobs":
        owner_id, count, first_id = (int(a) for a in argv[1:4])
        for job_id in range(first_id, first_id + count):
            job = ExportJob(pk=job_id, owner_id=owner_id, kind="annotate", status="processing")
            job.progress = 50.0
            marks[str(job_id)] = time.perf_counter()
            services.publish_job(job)  # a new job id: the throttle sends it at once
            time.sleep(0.01)
        publisher.flush(timeout=10)
    return marks


if __name__ == "__main__":
    print(json.dumps(produce(sys.argv[1:])))
