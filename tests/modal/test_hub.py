"""A Modal job's relayed progress reaches its owner's tab like a local job's (both layers)."""

from __future__ import annotations

import asyncio
import threading

import pytest
from channels.db import database_sync_to_async
from django.db import close_old_connections

from exports.models import ExportJob
from exports.remote_render import RemoteRenderError
from exports.runner import run_job
from tests.modal.conftest import FakeCall, Poll
from tests.notifications.conftest import (  # noqa: F401 - fixtures
    frames_until,
    fresh_throttle,
    hub_layer,
    sockets,
    user_cookie,
)

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("hub_layer")]

ENTRY = {
    "stage": "rendering",
    "progress": 25.0,
    "items": {"done": 1, "total": 4},
    "message": "Rendering clip 1 of 4",
    "eta": 30,
    "seq": 1,
}


async def test_relayed_progress_of_a_modal_job_reaches_the_owners_tab(
    sockets,  # noqa: F811
    user,
    user_cookie,  # noqa: F811
    fake_modal,
):
    job = await database_sync_to_async(ExportJob.objects.create)(
        owner=user,
        kind="framing",
        backend=ExportJob.Backend.MODAL,
        remote_call_id="fc-hub",  # already spawned: the worker re-attaches and relays
        input_snapshot={"kind": "framing"},
    )
    seen = threading.Event()

    def running_until_seen(call: FakeCall) -> object:
        fake_modal.store[f"reelforge:{job.pk}:1"] = ENTRY
        if seen.is_set() or call.polls > 3000:
            return RemoteRenderError("Source video could not be read")
        return Poll.RUNNING

    fake_modal.calls["fc-hub"] = FakeCall("fc-hub", (), fake_modal, script=[running_until_seen])
    tab = await sockets(user_cookie, hello=0)

    def work() -> str:
        try:
            return run_job(job_id=job.pk, worker="modal-test:1")
        finally:
            close_old_connections()

    worker = asyncio.get_running_loop().run_in_executor(None, work)
    frames = await frames_until(tab, lambda f: f.get("stage") == "rendering", timeout=10)
    seen.set()
    status = await worker
    rest = await frames_until(tab, lambda f: f.get("status") == "error", timeout=10)

    frame = frames[-1]
    assert (frame["type"], frame["id"], frame["status"]) == ("job", job.pk, "processing")
    assert frame["progress"] == 23.0  # the container's 25 % of its share (92 %)
    assert frame["items"] == {"done": 1, "total": 4}
    assert frame["message"] == "Rendering clip 1 of 4"
    assert status == "error"
    assert rest[-1]["error"] == "Source video could not be read"
