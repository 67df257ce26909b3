"""At most a few hub pushes per second per export job, and never a lost last value.

A render reports progress many times a second; the hub forwards at most
``rate`` frames per second per job. Between pushes only the newest frame is kept,
and a trailing push sends it when the interval is over, so the bar always ends on the
last value a worker reported. A final frame (a finished status, or progress 100)
goes out at once and drops anything older that was still waiting.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# States of jobs that went quiet without a final frame (a lost worker) are forgotten
# after this long, so a long-lived worker process does not collect them.
FORGET_AFTER_SECONDS = 300.0


@dataclass
class _JobState:
    last_push: float
    pending: tuple[int, dict[str, Any]] | None = None
    timer_armed: bool = False
    pushes: int = field(default=0)


class JobThrottle:
    """Per-job rate limit with a trailing push.

    ``push(owner_id, frame)`` sends a frame; ``schedule(delay, callback)`` runs a callback
    later (the hub publisher's loop in production, a fake clock in unit tests).
    """

    def __init__(
        self,
        *,
        rate: float,
        push: Callable[[int, dict[str, Any]], None],
        schedule: Callable[[float, Callable[[], None]], None],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.interval = 1.0 / rate if rate > 0 else 0.0
        self._push = push
        self._schedule = schedule
        self._clock = clock
        self._lock = threading.Lock()
        self._jobs: dict[int, _JobState] = {}

    def offer(self, *, job_id: int, owner_id: int, frame: dict[str, Any], final: bool) -> None:
        """Push ``frame`` now, or keep it as the job's newest frame for the trailing push."""
        # Pushing under the lock keeps the order of frames the same as the order of offers.
        with self._lock:
            now = self._clock()
            state = self._jobs.get(job_id)
            if final:
                self._jobs.pop(job_id, None)
                self._push(owner_id, frame)
                return
            if state is None:
                self._forget_quiet_jobs(now)
                self._jobs[job_id] = _JobState(last_push=now, pushes=1)
                self._push(owner_id, frame)
                return
            if not state.timer_armed and now - state.last_push >= self.interval:
                state.last_push, state.pending = now, None
                state.pushes += 1
                self._push(owner_id, frame)
                return
            state.pending = (owner_id, frame)
            if not state.timer_armed:
                state.timer_armed = True
                delay = state.last_push + self.interval - now
                self._schedule(delay, lambda: self._flush(job_id, state))

    def _flush(self, job_id: int, state: _JobState) -> None:
        with self._lock:
            if self._jobs.get(job_id) is not state:
                return  # a final frame already went out
            state.timer_armed = False
            if state.pending is None:
                return
            owner_id, frame = state.pending
            state.pending, state.last_push = None, self._clock()
            state.pushes += 1
            self._push(owner_id, frame)

    def _forget_quiet_jobs(self, now: float) -> None:
        if len(self._jobs) < 256:
            return
        for job_id, state in list(self._jobs.items()):
            if not state.timer_armed and now - state.last_push > FORGET_AFTER_SECONDS:
                del self._jobs[job_id]

    def tracked_jobs(self) -> int:
        return len(self._jobs)
