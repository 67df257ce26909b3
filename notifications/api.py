"""Notification history, unread count, toast claims, read / seen / archive over HTTP.

The same data the hub socket carries, for pages and for clients without a socket
(docs/hub.md).
Writes are POST with the session's CSRF token (X-CSRFToken).
"""

from __future__ import annotations

from datetime import datetime

from ninja import Field, Query, Router, Schema

from config.errors import ApiError
from notifications import services

router = Router(tags=["notifications"])


class ActionOut(Schema):
    label: str
    url: str
    method: str = "GET"


class NotificationOut(Schema):
    id: int
    kind: str
    level: str
    title: str
    message: str
    data: dict
    actions: list[ActionOut]
    created_at: datetime
    seen_at: datetime | None
    read_at: datetime | None


class HistoryQuery(Schema):
    before: int | None = Field(None, ge=1, description="Ids below this one (the `next` cursor).")
    limit: int = Field(20, ge=1, le=100)


class HistoryOut(Schema):
    items: list[NotificationOut]
    next: int | None = Field(description="`before` for the next (older) page; null at the end.")
    unread: int


class UnreadOut(Schema):
    count: int


class IdsIn(Schema):
    ids: list[int] = Field(..., max_length=services.MAX_IDS)


class ReadIn(Schema):
    ids: list[int] | None = Field(None, max_length=services.MAX_IDS)
    all: bool = False


class ChangedOut(Schema):
    updated: int
    unread: int


def _changed(request, updated: int) -> dict:
    return {"updated": updated, "unread": services.unread_count(user=request.user)}


@router.get("", response=HistoryOut)
def history(request, query: Query[HistoryQuery]):
    """The user's notifications, newest first, paged with `before`; archived ones are hidden."""
    items, next_before = services.notification_history(
        user=request.user, before=query.before, limit=query.limit
    )
    return {"items": items, "next": next_before, "unread": services.unread_count(user=request.user)}


@router.get("/unread-count", response=UnreadOut)
def unread_count(request):
    return {"count": services.unread_count(user=request.user)}


@router.post("/read", response=ChangedOut)
def mark_read(request, payload: ReadIn):
    """`{"ids": [...]}` marks those read; `{"all": true}` marks every unread one read."""
    if payload.all == (payload.ids is not None):
        raise ApiError(
            422,
            "invalid",
            'Send either {"ids": [...]} or {"all": true}.',
            {"ids": ["Either ids or all."]},
        )
    if payload.all:
        return _changed(request, services.notifications_mark_all_read(user=request.user))
    return _changed(request, services.notifications_mark_read(user=request.user, ids=payload.ids))


@router.post("/seen", response=ChangedOut)
def mark_seen(request, payload: IdsIn):
    """A toast was shown for these; other tabs will not show it again."""
    return _changed(request, services.notifications_mark_seen(user=request.user, ids=payload.ids))


class ClaimOut(Schema):
    claimed: bool = Field(description="True for exactly one caller: that tab shows the toast.")


@router.post("/{int:notification_id}/claim-toast", response=ClaimOut)
def claim_toast(request, notification_id: int):
    """Ask to toast a new notification; of all the user's tabs, exactly one is told yes."""
    return {
        "claimed": services.notification_claim_toast(
            user=request.user, notification_id=notification_id
        )
    }


@router.post("/archive", response=ChangedOut)
def archive(request, payload: IdsIn):
    """Hide these from history and replay (they also count as read)."""
    return _changed(request, services.notification_archive(user=request.user, ids=payload.ids))
