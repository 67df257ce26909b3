"""A live Reelforge for Playwright: daphne + qcluster as real processes, one Chromium.

The children use this run's test database, queue, channel prefix and media folder
(config/settings_test.py, REELFORGE_CHILD_PROCESS). Renders are throttled to real time
(FFMPEG_READRATE) so that a few seconds of tiny media take a few seconds to render:
long enough to refresh, cancel or cut the socket mid-way.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
SCREENSHOTS = BASE_DIR / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"daphne exited with {proc.returncode}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"daphne did not listen on {port}")


def _child_env() -> dict[str, str]:
    env = dict(os.environ)
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    env.update(
        DJANGO_SETTINGS_MODULE="config.settings_test",
        REELFORGE_CHILD_PROCESS="1",
        FFMPEG_READRATE=os.environ.get("BROWSER_FFMPEG_READRATE", "1"),
        QCLUSTER_WORKERS="2",
        UPLOAD_MAX_BYTES="5000000",  # so the page's "too big" check can be tried with 6 MB
        PYTHONUNBUFFERED="1",
    )
    return env


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=5)


@pytest.fixture(scope="package")
def app_server(django_db_setup, django_db_blocker):
    """daphne and a qcluster on this run's test database; their output goes to test-artifacts.

    Package-scoped: the cluster serves this run's queue, so it must be gone before
    other tests enqueue jobs they expect no worker to take.
    """
    logs = BASE_DIR / "test-artifacts" / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    env = _child_env()
    daphne = str(Path(sys.executable).parent / "daphne")
    commands = {
        "daphne": [daphne, "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        "qcluster": [sys.executable, "manage.py", "qcluster"],
    }
    procs = []
    try:
        for name, command in commands.items():
            log = open(logs / f"{name}.log", "w")  # noqa: SIM115 - closed with the process
            procs.append(
                subprocess.Popen(
                    command, cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
                    start_new_session=True,
                )
            )  # fmt: skip
        _wait_for_port(port, procs[0])
        yield f"http://127.0.0.1:{port}"
    finally:
        for proc in procs:
            _stop(proc)


@pytest.fixture(autouse=True)
def isolated_media():
    """Browser tests share the children's MEDIA_ROOT (the per-test one would be invisible)."""
    Path(settings.MEDIA_ROOT).mkdir(parents=True, exist_ok=True)
    return Path(settings.MEDIA_ROOT)


@pytest.fixture(scope="module")
def browser(app_server):
    """One Chromium per test module.

    Playwright's sync API keeps an asyncio loop current in this thread while it runs, so
    Django's async-safety check would refuse the ORM calls the tests make to set up data:
    allow them for the module only, and stop Playwright before other suites (whose async
    tests need the thread free of a loop) run.
    """
    from playwright.sync_api import sync_playwright

    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as p:
            chromium = p.chromium.launch(
                executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
            )
            yield chromium
            chromium.close()
    finally:
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


@pytest.fixture
def signed_in(browser, app_server, user):
    """A function returning a new browser context (a "browser profile") signed in as ``user``."""
    from django.test import Client

    contexts = []
    client = Client()
    client.force_login(user)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value

    def _context():
        context = browser.new_context(base_url=app_server, viewport={"width": 1280, "height": 860})
        context.add_cookies(
            [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": app_server}]
        )
        context.set_default_timeout(20_000)
        contexts.append(context)
        return context

    yield _context
    for context in contexts:
        context.close()


def screenshot(page, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
