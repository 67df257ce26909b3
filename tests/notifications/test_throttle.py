"""Job frames: a few per second per job, the final one at once, the last value never lost."""

from __future__ import annotations

import time

import pytest
from channels.db import database_sync_to_async

from exports.models import ExportJob
from notifications import services
from notifications.throttle import JobThrottle
from tests.notifications.conftest import frames_until


class FakeTime:
    """A clock and a scheduler that run timers only when the test advances time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, object]] = []

    def clock(self) -> float:
        return self.now

    def schedule(self, delay: float, callback) -> None:
        self.timers.append((self.now + delay, callback))

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [t for t in self.timers if t[0] <= self.now]
        self.timers = [t for t in self.timers if t[0] > self.now]
        for _, callback in sorted(due, key=lambda t: t[0]):
            callback()


@pytest.fixture
def throttled():
    fake = FakeTime()
    sent: list[dict] = []
    throttle = JobThrottle(
        rate=4,
        push=lambda owner_id, frame: sent.append(frame),
        schedule=fake.schedule,
        clock=fake.clock,
    )
    return throttle, fake, sent


def test_a_burst_becomes_a_few_frames_ending_on_the_last_value(throttled):
    throttle, fake, sent = throttled
    for i in range(1, 1000):  # 999 updates over one second
        throttle.offer(job_id=1, owner_id=5, frame={"progress": i / 10}, final=False)
        fake.advance(0.001)
    fake.advance(1.0)  # the trailing push
    progress = [f["progress"] for f in sent]
    assert 4 <= len(progress) <= 6
    assert progress == sorted(progress)
    assert progress[-1] == 99.9


def test_a_final_frame_goes_out_at_once_and_drops_an_older_pending_one(throttled):
    throttle, fake, sent = throttled
    throttle.offer(job_id=1, owner_id=5, frame={"progress": 10}, final=False)
    throttle.offer(job_id=1, owner_id=5, frame={"progress": 50}, final=False)
    throttle.offer(job_id=1, owner_id=5, frame={"progress": 100}, final=True)
    assert [f["progress"] for f in sent] == [10, 100]
    fake.advance(5)
    assert [f["progress"] for f in sent] == [10, 100]
    assert throttle.tracked_jobs() == 0


def test_jobs_are_throttled_independently(throttled):
    throttle, fake, sent = throttled
    throttle.offer(job_id=1, owner_id=5, frame={"job": 1}, final=False)
    throttle.offer(job_id=2, owner_id=5, frame={"job": 2}, final=False)
    assert [f["job"] for f in sent] == [1, 2]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("hub_layer")
async def test_a_thousand_progress_updates_in_a_second_reach_the_tab_as_a_few_frames(
    sockets, user, user_cookie
):
    def render() -> None:
        job = ExportJob.objects.create(owner=user, kind="annotate", status="processing")
        started = time.monotonic()
        for i in range(1, 1001):
            job.progress = i / 10
            services.publish_job(job)
            # Spread the 1,000 updates over about a second, like a chatty FFmpeg.
            time.sleep(max(0.0, started + i / 1000 - time.monotonic()))

    tab = await sockets(user_cookie, hello=0)
    await database_sync_to_async(render)()
    frames = await frames_until(tab, lambda f: f["type"] == "job" and f["progress"] == 100)
    progress = [f["progress"] for f in frames]
    assert 2 <= len(progress) <= 10, progress
    assert progress == sorted(progress)
    assert await tab.receive_nothing(timeout=0.6)  # no stale frame after the 100
