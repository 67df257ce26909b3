"""Publishing hub frames from sync code (web requests, queue workers) over long-lived connections.

``async_to_sync(layer.group_send)`` opens a Redis connection per call (3-5 ms, DESIGN.md
"Pitfalls"). Instead each process runs one asyncio loop in a daemon thread. ``send``
queues a message and returns; one drainer in that loop sends whatever is queued as a
batch (``ReelforgeChannelLayer.group_send_many``: two pipelined round trips for the
whole batch, on connections that stay open). A broadcast to 1,000 users is a handful
of round trips, and a lone job frame goes out at once.

The drainer sends batches one after another and a batch keeps its order, so frames to
one group arrive in the order they were sent (a job's 99 % never overtakes its 100 %).

Tests that use channels' in-memory layer bind the publisher to their own event loop with
``bind_loop`` (that layer's queues belong to one loop).
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import threading
from collections.abc import Callable
from typing import Any

from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

MAX_BATCH = 1000


class HubPublisher:
    """One per process (``publisher``); thread-safe, fork-safe (a forked child starts its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._owner_pid: int | None = None
        self._bound = False
        self._queue: list[tuple[str, dict[str, Any], concurrent.futures.Future]] = []
        self._draining = False
        self._pending: set[concurrent.futures.Future] = set()
        self.sent = 0
        self.failed = 0

    # --- the loop ---------------------------------------------------------------------

    def bind_loop(self, loop: asyncio.AbstractEventLoop) -> None:
        """Send on ``loop`` (a test's loop, for the in-memory layer) instead of a thread."""
        with self._lock:
            self._loop, self._owner_pid, self._bound = loop, os.getpid(), True
            self._reset_loop_state()

    def unbind_loop(self) -> None:
        with self._lock:
            if self._bound:
                self._loop, self._owner_pid, self._bound = None, None, False
                self._reset_loop_state()

    def _reset_loop_state(self) -> None:
        self._queue, self._draining, self._pending = [], False, set()

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._owner_pid != os.getpid():
                # First use, or a forked child (the parent's thread does not exist here).
                self._loop, self._owner_pid, self._bound = self._start_thread(), os.getpid(), False
                self._reset_loop_state()
            return self._loop

    @staticmethod
    def _start_thread() -> asyncio.AbstractEventLoop:
        loop = asyncio.new_event_loop()
        started = threading.Event()

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.call_soon(started.set)
            loop.run_forever()

        threading.Thread(target=run, name="hub-publisher", daemon=True).start()
        started.wait()
        return loop

    # --- sending ----------------------------------------------------------------------

    def send(self, group: str, message: dict[str, Any]) -> concurrent.futures.Future:
        """Queue ``layer.group_send(group, message)``; returns at once with a future."""
        loop = self.loop()
        future: concurrent.futures.Future = concurrent.futures.Future()
        with self._lock:
            self._queue.append((group, message, future))
            self._pending.add(future)
            start_drainer = not self._draining
            self._draining = True
        future.add_done_callback(self._forget)
        if start_drainer:
            loop.call_soon_threadsafe(lambda: loop.create_task(self._drain()))
        return future

    def call_later(self, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` in the publisher's loop after ``delay`` seconds (thread-safe)."""
        loop = self.loop()
        loop.call_soon_threadsafe(loop.call_later, max(delay, 0.0), callback)

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until every queued send is done (not from the publisher's own loop)."""
        with self._lock:
            pending = list(self._pending)
        if not pending:
            return True
        _, not_done = concurrent.futures.wait(pending, timeout=timeout)
        return not not_done

    def _forget(self, future: concurrent.futures.Future) -> None:
        with self._lock:
            self._pending.discard(future)

    async def _drain(self) -> None:
        while True:
            with self._lock:
                batch = self._queue[:MAX_BATCH]
                del self._queue[:MAX_BATCH]
                if not batch:
                    self._draining = False
                    return
            try:
                layer = get_channel_layer()
                send_many = getattr(layer, "group_send_many", None)
                if send_many is not None:
                    await send_many([(group, message) for group, message, _ in batch])
                else:
                    for group, message, _ in batch:
                        await layer.group_send(group, message)
                self.sent += len(batch)
            except Exception:
                # A producer never fails because the hub is down; the row is the durable record.
                self.failed += len(batch)
                logger.exception("Hub push of %s frame(s) failed", len(batch))
            for _, _, future in batch:
                future.set_result(None)


publisher = HubPublisher()
atexit.register(publisher.flush, 5.0)
