"""Fixtures for the Modal backend: moto's S3 server, the game in it, and a stand-in for Modal.

Only Modal's own objects are replaced (``Function.from_name``, ``FunctionCall.from_id``,
``Dict.from_name``), at the SDK boundary: the backend, the runner, the storage, the
presigned URLs, FFmpeg and the remote render body are all real.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import modal
import modal.exception
import pytest

from exports.remote_render import run_render_job
from tests.exports.conftest import clips, hub, project, run_job, start_job  # noqa: F401
from tests.storage.conftest import moto_endpoint, s3  # noqa: F401


@pytest.fixture(autouse=True)
def work_dir(settings, tmp_path):
    settings.EXPORT_WORK_DIR = tmp_path / "render"
    return settings.EXPORT_WORK_DIR


@pytest.fixture
def game(s3, make_game, user):  # noqa: F811 - the game's video lives in the S3 bucket
    return make_game(user)


@pytest.fixture
def modal_settings(settings):
    settings.MODAL_ENABLED = True
    settings.MODAL_FALLBACK_LOCAL = False
    settings.MODAL_POLL_SECONDS = 0.01
    settings.MODAL_UNKNOWN_GRACE_SECONDS = 900
    return settings


class Poll:
    """One scripted answer of ``FunctionCall.get(timeout=0)``."""

    RUNNING = "running"


@dataclass
class FakeCall:
    """A stand-in for ``modal.FunctionCall``: ``get(timeout=0)`` follows a script."""

    object_id: str
    args: tuple
    fake: FakeModal
    script: list[Any] = field(default_factory=list)
    result: dict | None = None
    polls: int = 0

    def get(self, timeout: float | None = None):
        assert timeout == 0, "the backend must never block on a call"
        self.polls += 1
        step = self.script.pop(0) if len(self.script) > 1 else (self.script or ["done"])[0]
        if callable(step):
            step = step(self)
        if step == Poll.RUNNING:
            raise TimeoutError()
        if isinstance(step, BaseException):
            raise step
        return self.result

    def cancel(self, terminate_containers: bool = False) -> None:
        self.fake.cancels.append((self.object_id, terminate_containers))


@dataclass
class FakeModal:
    """Modal as far as the backend sees it: one deployed function, calls, a progress Dict."""

    store: dict = field(default_factory=dict)
    calls: dict[str, FakeCall] = field(default_factory=dict)
    lookups: list[tuple[str, str]] = field(default_factory=list)
    cancels: list[tuple[str, bool]] = field(default_factory=list)
    # What spawn does: None runs the real remote body now (like a container would),
    # an exception is raised (Modal unreachable), a callable gets the call.
    on_spawn: Any = None
    script: list[Any] = field(default_factory=lambda: ["done"])
    unreachable: BaseException | None = None

    def spawn(self, *args) -> FakeCall:
        if isinstance(self.on_spawn, BaseException):
            raise self.on_spawn
        call = FakeCall(f"fc-{len(self.calls) + 1}", args, self, script=list(self.script))
        self.calls[call.object_id] = call
        if self.on_spawn is None:
            call.result = run_remote(args, self.store)
        elif callable(self.on_spawn):
            self.on_spawn(call)
        return call

    def from_id(self, call_id: str) -> FakeCall:
        if self.unreachable is not None:
            raise self.unreachable
        if call_id not in self.calls:
            raise modal.exception.NotFoundError(f"No call {call_id}")
        return self.calls[call_id]

    @property
    def last(self) -> FakeCall:
        return list(self.calls.values())[-1]


def run_remote(args: tuple, store: dict, **kwargs) -> dict:
    """What the deployed ``render_remote`` does with the arguments the backend spawned."""
    job_id, snapshot, source_urls, output_put_url, extras_put_urls, key = args
    return run_render_job(
        job_id=job_id,
        snapshot=snapshot,
        source_urls=source_urls,
        output_put_url=output_put_url,
        extras_put_urls=extras_put_urls,
        progress_store=store,
        progress_key=key,
        **kwargs,
    )


@pytest.fixture
def fake_modal(monkeypatch, modal_settings) -> FakeModal:
    fake = FakeModal()

    class Function:
        def __init__(self, app: str, name: str) -> None:
            fake.lookups.append((app, name))

        def spawn(self, *args):
            return fake.spawn(*args)

    def function_from_name(app_name: str, name: str, **kwargs):
        return Function(app_name, name)

    def dict_from_name(name: str, **kwargs):
        assert kwargs.get("create_if_missing") is True
        return fake.store

    monkeypatch.setattr(modal.Function, "from_name", function_from_name)
    monkeypatch.setattr(modal.FunctionCall, "from_id", fake.from_id)
    monkeypatch.setattr(modal.Dict, "from_name", dict_from_name)
    return fake


@pytest.fixture
def relays(monkeypatch) -> list[tuple[int, str]]:
    """Relay tasks the reaper queued (the test runs them itself)."""
    queued: list[tuple[int, str]] = []
    monkeypatch.setattr(
        "exports.backends.modal.enqueue_relay", lambda job_id, token: queued.append((job_id, token))
    )
    return queued


def replay(entries: list[dict], store: dict, key: str) -> Callable[[FakeCall], str]:
    """A script step that shows the next progress entry, as a container would write it."""

    def step(call: FakeCall) -> str:
        if entries:
            store[key] = entries.pop(0)
        return Poll.RUNNING

    return step
