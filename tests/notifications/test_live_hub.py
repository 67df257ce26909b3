"""The hub in a real daphne process on the real Redis layer (embedded, or REDIS_URL).

One two-minute test, as DESIGN.md asks: with this stack's stock settings idle sockets
die about every 5 s and a fast burst to many users silently loses messages.
"""

from __future__ import annotations

import asyncio
import time

import aiohttp
import pytest
from django.db import connections

from notifications import services
from notifications.loadtest import (
    Daphne,
    close_sockets,
    create_signed_in_users,
    open_sockets,
    raise_fd_limit,
)
from notifications.publisher import publisher

SOCKETS = 1000
IDLE_SECONDS = 120


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_thousand_idle_sockets_stay_open_two_minutes_and_a_burst_to_1000_users_loses_none(
    tmp_path,
):
    raise_fd_limit(8192)
    users = create_signed_in_users(SOCKETS, prefix="idle")
    failed_pushes_before = publisher.failed

    def burst() -> None:
        try:
            for user_id, _ in users:
                services.notify(user=user_id, kind="info", title=f"for {user_id}")
            publisher.flush(timeout=30)
        finally:
            connections.close_all()

    async def scenario(daphne: Daphne) -> None:
        connector = aiohttp.TCPConnector(limit=0)
        async with aiohttp.ClientSession(connector=connector) as session:
            sockets, failures = await open_sockets(session, daphne, users)
            try:
                assert failures == []
                assert len(sockets) == SOCKETS

                await asyncio.sleep(IDLE_SECONDS)
                closed = [(s.user_id, s.closed_code) for s in sockets if s.closed_code]
                assert closed == []
                assert daphne.process.poll() is None

                await asyncio.get_running_loop().run_in_executor(None, burst)
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline and any(
                    not s.of_type("notification") for s in sockets
                ):
                    await asyncio.sleep(0.1)
                received = {
                    s.user_id: [f["title"] for _, f in s.of_type("notification")] for s in sockets
                }
                missing = [uid for uid, titles in received.items() if not titles]
                assert missing == []
                assert all(titles == [f"for {uid}"] for uid, titles in received.items())
                assert [s.user_id for s in sockets if s.closed_code] == []
            finally:
                await close_sockets(sockets)

    child_env = {"DJANGO_SETTINGS_MODULE": "config.settings_test", "REELFORGE_CHILD_PROCESS": "1"}
    with Daphne(env=child_env, log_path=tmp_path / "daphne.log") as daphne:
        asyncio.run(scenario(daphne))
    assert publisher.failed == failed_pushes_before
    log = (tmp_path / "daphne.log").read_text(errors="replace")
    assert "Traceback" not in log and "over capacity" not in log
