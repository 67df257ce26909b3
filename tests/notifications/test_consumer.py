"""The hub socket, on the in-memory layer and on the real Redis layer (``hub_layer``)."""

from __future__ import annotations

import asyncio
import json

import pytest
from channels.db import database_sync_to_async

from exports.models import ExportJob
from notifications import services
from notifications.models import Notification
from tests.notifications.conftest import frames_until

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_layer")]

notify = database_sync_to_async(services.notify)


async def test_anonymous_socket_is_closed_with_4401(sockets):
    socket = await sockets(None)
    assert socket.connected
    closed = await socket.receive_output(timeout=5)
    assert closed == {"type": "websocket.close", "code": 4401}


async def test_socket_from_a_foreign_origin_is_refused(sockets, user_cookie):
    socket = await sockets(user_cookie, origin="https://evil.example")
    assert not socket.connected


async def test_socket_without_an_origin_is_refused(sockets, user_cookie):
    socket = await sockets(user_cookie, origin="")
    assert not socket.connected


async def test_user_never_receives_frames_about_another_user(
    sockets, user, other_user, user_cookie, other_cookie
):
    mine = await sockets(user_cookie, hello=0)
    theirs = await sockets(other_cookie, hello=0)

    await notify(user=user, kind="info", title="Only for the coach")
    frame = await mine.receive_json_from(timeout=5)
    assert frame["type"] == "notification" and frame["title"] == "Only for the coach"
    assert await theirs.receive_nothing(timeout=0.5)

    # The rival marks the coach's notification read over the socket: nothing changes.
    await theirs.send_json_to({"type": "read", "ids": [frame["id"]]})
    await theirs.send_json_to({"type": "read_all"})
    await theirs.send_json_to({"type": "ping"})
    assert await theirs.receive_json_from(timeout=5) == {"type": "pong"}
    row = await database_sync_to_async(Notification.objects.get)(pk=frame["id"])
    assert row.read_at is None
    assert await mine.receive_nothing(timeout=0.3)


async def test_reconnecting_tab_replays_exactly_what_it_missed_in_order(sockets, user, user_cookie):
    await notify(user=user, kind="info", title="Known before")
    tab = await sockets(user_cookie, hello=0)
    cursor = tab.snapshot["cursor"]
    assert [n["title"] for n in tab.snapshot["notifications"]] == ["Known before"]
    await tab.disconnect()

    for title in ("First", "Second", "Third"):
        await notify(user=user, kind="info", title=title)

    again = await sockets(user_cookie, hello=cursor)
    snapshot = again.snapshot
    assert [n["title"] for n in snapshot["notifications"]] == ["First", "Second", "Third"]
    assert snapshot["resync"] is False
    assert snapshot["unread"] == 4
    assert snapshot["cursor"] == snapshot["notifications"][-1]["id"]
    assert await again.receive_nothing(timeout=0.3)  # no duplicate live frames


async def test_more_than_100_missed_sends_the_newest_100_and_resync(sockets, user, user_cookie):
    def make_many() -> int:
        Notification.objects.bulk_create(
            Notification(user=user, kind="info", title=f"n{i}") for i in range(130)
        )
        return Notification.objects.order_by("id").values_list("id", flat=True)[0]

    first_id = await database_sync_to_async(make_many)()
    tab = await sockets(user_cookie, hello=first_id - 1)
    replayed = tab.snapshot["notifications"]
    assert tab.snapshot["resync"] is True
    assert [n["title"] for n in replayed] == [f"n{i}" for i in range(30, 130)]


async def test_a_read_in_one_tab_sends_the_new_count_to_every_tab(sockets, user, user_cookie):
    first = await sockets(user_cookie, hello=0)
    second = await sockets(user_cookie, hello=0)
    await notify(user=user, kind="info", title="One")
    await notify(user=user, kind="info", title="Two")
    ids = []
    for tab in (first, second):
        frames = [await tab.receive_json_from(timeout=5) for _ in range(2)]
        ids = [f["id"] for f in frames]
        assert [f["title"] for f in frames] == ["One", "Two"]

    await first.send_json_to({"type": "read", "ids": ids[:1]})
    for tab in (first, second):
        assert await tab.receive_json_from(timeout=5) == {
            "type": "unread",
            "count": 1,
            "change": "read",
            "ids": ids[:1],
        }

    await second.send_json_to({"type": "read_all"})
    for tab in (first, second):
        frame = await tab.receive_json_from(timeout=5)
        assert (frame["type"], frame["count"], frame["change"]) == ("unread", 0, "read_all")


async def test_seen_is_pushed_to_every_tab_so_only_one_toasts(sockets, user, user_cookie):
    first = await sockets(user_cookie, hello=0)
    second = await sockets(user_cookie, hello=0)
    note = await notify(user=user, kind="export.completed", title="Done")
    for tab in (first, second):
        assert (await tab.receive_json_from(timeout=5))["id"] == note.pk
    await first.send_json_to({"type": "seen", "ids": [note.pk]})
    for tab in (first, second):
        frame = await tab.receive_json_from(timeout=5)
        assert frame == {"type": "unread", "count": 1, "change": "seen", "ids": [note.pk]}


async def test_snapshot_shows_an_active_job_with_its_progress(sockets, user, user_cookie):
    def make_jobs() -> int:
        ExportJob.objects.create(owner=user, kind="annotate", status="complete", progress=100)
        job = ExportJob.objects.create(
            owner=user, kind="framing", status="processing", stage="render", progress=40.0
        )
        return job.pk

    job_id = await database_sync_to_async(make_jobs)()
    tab = await sockets(user_cookie, hello=0)
    jobs = tab.snapshot["jobs"]
    assert [(j["id"], j["status"], j["progress"], j["stage"]) for j in jobs] == [
        (job_id, "processing", 40.0, "render")
    ]


async def test_live_job_frames_reach_the_owner(sockets, user, user_cookie):
    def start_job() -> None:
        job = ExportJob.objects.create(owner=user, kind="annotate", status="processing")
        job.progress = 12.5
        services.publish_job(job)

    tab = await sockets(user_cookie, hello=0)
    await database_sync_to_async(start_job)()
    frame = await tab.receive_json_from(timeout=5)
    assert (frame["type"], frame["status"], frame["progress"]) == ("job", "processing", 12.5)


async def test_bad_frames_get_error_frames_and_the_socket_keeps_working(
    sockets, user, user_cookie, settings
):
    tab = await sockets(user_cookie, hello=0)

    async def answer_to(text=None, data=None) -> dict:
        await tab.send_to(text_data=text, bytes_data=data)
        return await tab.receive_json_from(timeout=5)

    assert (await answer_to("{not json"))["code"] == "bad_frame"
    assert (await answer_to("[1, 2]"))["code"] == "bad_frame"
    assert (await answer_to('{"no": "type"}'))["code"] == "bad_frame"
    unknown = await answer_to('{"type": "launch_missiles"}')
    assert (unknown["type"], unknown["code"], unknown["for"]) == (
        "error",
        "unknown_type",
        "launch_missiles",
    )
    huge = json.dumps({"type": "read", "ids": [1] * settings.HUB_MAX_FRAME_BYTES})
    assert (await answer_to(huge))["code"] == "too_large"
    assert (await answer_to(data=b"\x00\x01"))["code"] == "bad_frame"
    invalid = await answer_to('{"type": "read", "ids": "all of them"}')
    assert (invalid["code"], invalid["for"]) == ("invalid", "read")
    assert "ids" in invalid["fields"]
    assert (await answer_to('{"type": "hello", "since": -3}'))["code"] == "invalid"

    # The same socket still answers and still receives live frames.
    assert await answer_to('{"type": "ping"}') == {"type": "pong"}
    await notify(user=user, kind="info", title="Still here")
    assert (await tab.receive_json_from(timeout=5))["title"] == "Still here"


async def test_quiet_socket_is_pinged_and_a_silent_client_is_dropped(
    sockets, user_cookie, settings
):
    settings.HUB_PING_SECONDS = 0.2
    settings.HUB_CLIENT_TIMEOUT_SECONDS = 0.7
    tab = await sockets(user_cookie)
    assert await tab.receive_json_from(timeout=5) == {"type": "ping"}
    await tab.send_json_to({"type": "pong"})  # heard: the deadline moves
    assert await tab.receive_json_from(timeout=5) == {"type": "ping"}
    frames = []
    while (frame := await tab.receive_output(timeout=5))["type"] != "websocket.close":
        frames.append(frame)
    assert frame["code"] == 4408


async def test_sockets_opened_together_are_pinged_at_different_moments(
    sockets, user_cookie, settings
):
    """After a deploy every tab reconnects at once; their pings must not stay in lockstep."""
    settings.HUB_PING_SECONDS = 2.0
    tabs = await asyncio.gather(*(sockets(user_cookie) for _ in range(10)))
    loop = asyncio.get_running_loop()

    async def first_ping_at(tab) -> float:
        assert await tab.receive_json_from(timeout=5) == {"type": "ping"}
        return loop.time()

    moments = await asyncio.gather(*(first_ping_at(tab) for tab in tabs))
    # In lockstep they would arrive within a few milliseconds of each other.
    assert max(moments) - min(moments) > 0.2


async def test_a_client_that_answers_pings_stays_while_frames_keep_flowing(
    sockets, user, user_cookie, settings
):
    settings.HUB_PING_SECONDS = 0.2
    settings.HUB_CLIENT_TIMEOUT_SECONDS = 0.7
    tab = await sockets(user_cookie)
    pings = 0
    for i in range(12):  # about 1.5 s of steady traffic to a client that only ever pongs
        await notify(user=user, kind="info", title=f"n{i}")
        while not await tab.receive_nothing(timeout=0.12):
            frame = await tab.receive_json_from()
            if frame["type"] == "ping":
                pings += 1
                await tab.send_json_to({"type": "pong"})
            else:
                assert frame["type"] == "notification"
    assert pings >= 1
    await tab.send_json_to({"type": "ping"})
    assert await frames_until(tab, lambda f: f["type"] == "pong")
