"""Stage spans to one job percent, with an ETA: the arithmetic every progress sink shares.

The renderer reports a stage with the absolute span it owns (``start``..``end``
percent of the whole job) and fractions within it. ``StagedProgress`` turns that
into one percent that never goes backwards and an ETA from the rate observed so
far. Where the numbers go is the subclass's business: the worker's ``JobProgress``
writes the job row and the hub, the Modal container's ``RemoteProgress`` a
``modal.Dict``. Django-free, so the container can import it.
"""

from __future__ import annotations

import time
from collections.abc import Callable

ETA_AFTER_SECONDS = 1.0  # an ETA from less than a second of progress is noise


class StagedProgress:
    """The ``ProgressSink`` bookkeeping; subclasses override ``changed`` to publish."""

    def __init__(
        self,
        *,
        percent: float = 0.0,
        stage_name: str = "",
        message: str = "",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self.percent = float(percent)
        self.stage_name = stage_name
        self.message = message
        self.item: int | None = None
        self.items: int | None = None
        self.eta: int | None = None
        self._span = (self.percent, self.percent)
        self._rate_origin: tuple[float, float] | None = None

    def stage(
        self,
        name: str,
        *,
        message: str,
        start: float,
        end: float,
        item: int | None = None,
        items: int | None = None,
    ) -> None:
        stage_changed = (name, message, item, items) != (
            self.stage_name,
            self.message,
            self.item,
            self.items,
        )
        self.stage_name, self.message, self.item, self.items = name, message, item, items
        self._span = (float(start), float(max(end, start)))
        self._advance(self._span[0], stage_changed=stage_changed)

    def fraction(self, f: float) -> None:
        lo, hi = self._span
        self._advance(lo + min(max(f, 0.0), 1.0) * (hi - lo))

    def changed(self, *, stage_changed: bool, moved: bool) -> None:
        """Called after every report; ``moved``: the percent changed in its first decimal."""

    def _advance(self, percent: float, *, stage_changed: bool = False) -> None:
        # Never backwards: a new stage may start a hair below the last reported value.
        new = max(self.percent, min(percent, 100.0))
        moved = round(new, 1) != round(self.percent, 1)
        self.percent = new
        self._update_eta()
        self.changed(stage_changed=stage_changed, moved=moved)

    def _update_eta(self) -> None:
        now = self._clock()
        if self._rate_origin is None:
            self._rate_origin = (now, self.percent)
            return
        t0, p0 = self._rate_origin
        elapsed, done = now - t0, self.percent - p0
        if elapsed >= ETA_AFTER_SECONDS and done > 0:
            self.eta = max(int(round((100.0 - self.percent) * elapsed / done)), 0)
