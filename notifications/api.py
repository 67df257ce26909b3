"""JSON endpoints (filled in by this app's work)."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["notifications"])
