"""Publishing hub frames from sync code (web requests, queue workers) over long-lived connections.

``async_to_sync(layer.group_send)`` opens a Redis connection per call (3-5 ms, DESIGN.md
"Pitfalls"). Instead each process runs one asyncio loop in a daemon thread; every send is
a coroutine submitted to that loop, so the layer's connection pool for that loop stays open
and a send costs a few hundred microseconds.

Sends to one group keep their order (a job's 99 % never overtakes its 100 %): each group
has a FIFO lock in the loop; sends to different groups run concurrently, up to
``MAX_CONCURRENT_SENDS`` at a time.

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

MAX_CONCURRENT_SENDS = 64


class HubPublisher:
    """One per process (``publisher``); thread-safe, fork-safe (a forked child starts its own)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._owner_pid: int | None = None
        self._bound = False
        self._pending: set[concurrent.futures.Future] = set()
        self._group_locks: dict[str, tuple[asyncio.Lock, int]] = {}
        self._slots: asyncio.Semaphore | None = None
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
        self._group_locks = {}
        self._slots = None
        self._pending = set()

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
        future = asyncio.run_coroutine_threadsafe(self._send(group, message), self.loop())
        with self._lock:
            self._pending.add(future)
        future.add_done_callback(self._forget)
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
        done, not_done = concurrent.futures.wait(pending, timeout=timeout)
        return not not_done

    def _forget(self, future: concurrent.futures.Future) -> None:
        with self._lock:
            self._pending.discard(future)

    async def _send(self, group: str, message: dict[str, Any]) -> None:
        lock, users = self._group_locks.get(group) or (asyncio.Lock(), 0)
        self._group_locks[group] = (lock, users + 1)
        if self._slots is None:
            self._slots = asyncio.Semaphore(MAX_CONCURRENT_SENDS)
        try:
            async with lock, self._slots:
                await get_channel_layer().group_send(group, message)
            self.sent += 1
        except Exception:
            # A producer never fails because the hub is down; the row is the durable record.
            self.failed += 1
            logger.exception("Hub push to %s failed", group)
        finally:
            lock, users = self._group_locks[group]
            if users <= 1:
                del self._group_locks[group]
            else:
                self._group_locks[group] = (lock, users - 1)


publisher = HubPublisher()
atexit.register(publisher.flush, 5.0)
