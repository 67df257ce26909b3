"""The notification hub: persist what a user should find later, push everything live.

Producers call ``notify`` (a row, then a ``notification`` frame after commit) and
``publish_job`` (an ephemeral ``job`` frame, throttled). Readers mark rows seen / read /
archived; every change pushes the user's new unread count to all of their tabs.
Frames are JSON-encoded once here and forwarded verbatim by every socket (docs/hub.md).
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Max
from django.utils import timezone

from config.errors import ApiError
from exports.frames import job_frame
from exports.models import ExportJob
from notifications.models import Notification
from notifications.publisher import publisher
from notifications.throttle import JobThrottle

REPLAY_LIMIT = 100  # a snapshot carries at most this many missed notifications
MAX_IDS = 500  # ids per seen / read / archive call
MAX_ACTIONS = 5
KIND_PATTERN = re.compile(r"^[a-z][a-z0-9_.-]{0,47}$")
TITLE_MAX = Notification._meta.get_field("title").max_length


def user_group(user_id: int) -> str:
    """The one channel-layer group of a user's tabs."""
    return f"hub.user.{user_id}"


def _user_id(user: Any) -> int:
    return user if isinstance(user, int) else user.pk


def serialize_notification(notification: Notification) -> dict[str, Any]:
    """A notification as every client sees it (a ``notification`` frame minus its type)."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": notification.pk,
        "kind": notification.kind,
        "level": notification.level,
        "title": notification.title,
        "message": notification.message,
        "data": notification.data,
        "actions": notification.actions,
        "created_at": iso(notification.created_at),
        "seen_at": iso(notification.seen_at),
        "read_at": iso(notification.read_at),
    }


def _push_frame(user_id: int, frame: dict[str, Any], **extra: Any) -> None:
    message = {"type": "hub.frame", "text": json.dumps(frame), **extra}
    publisher.send(user_group(user_id), message)


# --- producing ------------------------------------------------------------------------


def _invalid(field: str, problem: str) -> ApiError:
    return ApiError(422, "invalid", "The notification is not valid.", {field: [problem]})


def _clean_actions(actions: list[dict] | None) -> list[dict[str, str]]:
    cleaned = []
    for action in actions or []:
        if not isinstance(action, dict):
            raise _invalid("actions", "Each action is an object {label, url}.")
        label, url = action.get("label"), action.get("url")
        if not (isinstance(label, str) and label.strip() and isinstance(url, str) and url):
            raise _invalid("actions", "Each action needs a label and a url.")
        method = str(action.get("method", "GET")).upper()
        if method not in ("GET", "POST"):
            raise _invalid("actions", "An action's method is GET or POST.")
        cleaned.append({"label": label.strip(), "url": url, "method": method})
    if len(cleaned) > MAX_ACTIONS:
        raise _invalid("actions", f"At most {MAX_ACTIONS} actions.")
    return cleaned


def _cap_history(user_id: int) -> None:
    cap = settings.NOTIFICATION_HISTORY_CAP
    if cap <= 0:
        return
    newest = Notification.objects.filter(user_id=user_id).order_by("-id")
    boundary = list(newest.values_list("id", flat=True)[cap : cap + 1])
    if boundary:
        Notification.objects.filter(user_id=user_id, id__lte=boundary[0]).delete()


def notify(
    *,
    user: Any,
    kind: str,
    title: str,
    message: str = "",
    level: str = Notification.Level.INFO,
    data: dict | None = None,
    actions: list[dict] | None = None,
    event_key: str | None = None,
    already_read: bool = False,
) -> Notification:
    """Persist a notification and push it to the user's tabs after commit.

    With ``event_key`` the event is recorded once per user however often the producer
    runs (a retried task, a finalize called twice, two racing workers): later calls return
    the existing row and push nothing. ``user`` is a user or a user id. ``already_read``
    records an event for the history without a toast or an unread badge (e.g. "export
    started", which the export indicator already shows).
    """
    user_id = _user_id(user)
    if not isinstance(kind, str) or not KIND_PATTERN.match(kind):
        raise _invalid("kind", "A lowercase word like export.completed.")
    if level not in Notification.Level.values:
        raise _invalid("level", f"One of {', '.join(Notification.Level.values)}.")
    title = (title or "").strip()
    if not title:
        raise _invalid("title", "A title is required.")
    if len(title) > TITLE_MAX:
        title = title[: TITLE_MAX - 1] + "…"  # a long project name must not lose the event
    if event_key is not None and not (0 < len(event_key) <= 128):
        raise _invalid("event_key", "At most 128 characters.")
    data = data or {}
    try:
        json.dumps(data)
    except (TypeError, ValueError):
        raise _invalid("data", "Must be JSON.") from None
    row = Notification(
        user_id=user_id,
        kind=kind,
        level=level,
        title=title,
        message=message or "",
        data=data,
        actions=_clean_actions(actions),
        event_key=event_key,
    )
    if already_read:
        row.seen_at = row.read_at = timezone.now()
    try:
        with transaction.atomic():
            row.save(force_insert=True)
            _cap_history(user_id)
    except IntegrityError:
        existing = Notification.objects.filter(user_id=user_id, event_key=event_key).first()
        if event_key is None or existing is None:
            raise
        return existing
    frame = {"type": "notification", **serialize_notification(row)}
    transaction.on_commit(
        lambda: _push_frame(user_id, frame, type="hub.notification", id=row.pk), robust=True
    )
    return row


def notify_info(*, user: Any, title: str, message: str = "", **extra: Any) -> Notification:
    """A plain informational message (kind ``info``)."""
    return notify(user=user, kind="info", level="info", title=title, message=message, **extra)


def notify_warning(*, user: Any, title: str, message: str = "", **extra: Any) -> Notification:
    """A plain warning (kind ``warning``)."""
    return notify(user=user, kind="warning", level="warning", title=title, message=message, **extra)


def notify_error(*, user: Any, title: str, message: str = "", **extra: Any) -> Notification:
    """A plain error message (kind ``error``)."""
    return notify(user=user, kind="error", level="error", title=title, message=message, **extra)


# --- job frames -----------------------------------------------------------------------

_throttle: JobThrottle | None = None


def job_throttle() -> JobThrottle:
    """The process's job-frame throttle (built on first use, from the settings then)."""
    global _throttle
    if _throttle is None:
        _throttle = JobThrottle(
            rate=settings.HUB_JOB_PUSHES_PER_SECOND,
            push=_push_frame,
            schedule=publisher.call_later,
        )
    return _throttle


def publish_job(job: ExportJob) -> None:
    """Push an ephemeral ``job`` frame to the owner's tabs (no row), after commit.

    Throttled to a few frames a second per job; a finished status or progress 100 is sent
    at once, and the newest frame of a burst always follows (a trailing push).
    """
    frame = job_frame(job)
    final = job.status in ExportJob.FINISHED_STATUSES or job.progress >= 100
    job_id, owner_id = job.pk, job.owner_id
    transaction.on_commit(
        lambda: job_throttle().offer(job_id=job_id, owner_id=owner_id, frame=frame, final=final),
        robust=True,
    )


# --- reading --------------------------------------------------------------------------


def _unread(user_id: int):
    return Notification.objects.filter(user_id=user_id, read_at=None, archived_at=None)


def unread_count(*, user: Any) -> int:
    """Unread, not archived notifications (an index-only count)."""
    return _unread(_user_id(user)).count()


def _clean_ids(ids: Any) -> list[int]:
    if not isinstance(ids, list) or not all(
        isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in ids
    ):
        problem = "A list of notification ids (positive whole numbers)."
        raise ApiError(422, "invalid", "ids must be a list of ids.", {"ids": [problem]})
    if len(ids) > MAX_IDS:
        raise ApiError(
            422, "invalid", f"At most {MAX_IDS} ids at once.", {"ids": [f"At most {MAX_IDS}."]}
        )
    return list(dict.fromkeys(ids))


def _push_unread_after_commit(user_id: int, change: str, **details: Any) -> None:
    def push() -> None:
        frame = {"type": "unread", "count": unread_count(user=user_id), "change": change}
        _push_frame(user_id, {**frame, **details})

    transaction.on_commit(push, robust=True)


def _mark(user: Any, ids: Any, field: str, change: str, also: tuple[str, ...] = ()) -> int:
    user_id = _user_id(user)
    ids = _clean_ids(ids)
    now = timezone.now()
    with transaction.atomic():
        # Only the caller's own rows: another user's ids match nothing and reveal nothing.
        mine = Notification.objects.filter(user_id=user_id, pk__in=ids)
        changed = list(mine.filter(**{field: None}).values_list("id", flat=True))
        mine.filter(pk__in=changed, **{field: None}).update(**{field: now})
        for implied in also:
            mine.filter(**{implied: None}).update(**{implied: now})
    if changed:
        _push_unread_after_commit(user_id, change, ids=sorted(changed))
    return len(changed)


def notifications_mark_seen(*, user: Any, ids: Any) -> int:
    """Record that a toast was shown for these notifications (never toast them again)."""
    return _mark(user, ids, "seen_at", "seen")


def notification_claim_toast(*, user: Any, notification_id: int) -> bool:
    """True for exactly one caller: the tab (of any browser) that will toast this notification.

    One conditional UPDATE marks it seen, so racing tabs cannot both win; a notification
    already seen, read or archived (or another user's) is never claimed.
    """
    user_id = _user_id(user)
    claimed = Notification.objects.filter(
        user_id=user_id, pk=notification_id, seen_at=None, read_at=None, archived_at=None
    ).update(seen_at=timezone.now())
    if claimed:
        _push_unread_after_commit(user_id, "seen", ids=[notification_id])
    return bool(claimed)


def notifications_mark_read(*, user: Any, ids: Any) -> int:
    """Mark the user's notifications read (and seen); returns how many changed."""
    return _mark(user, ids, "read_at", "read", also=("seen_at",))


def notification_archive(*, user: Any, ids: Any) -> int:
    """Hide notifications from history and replay; archiving also reads them."""
    return _mark(user, ids, "archived_at", "archive", also=("read_at", "seen_at"))


def notifications_mark_all_read(*, user: Any) -> int:
    """Mark every unread notification of the user read; returns how many changed."""
    user_id = _user_id(user)
    now = timezone.now()
    with transaction.atomic():
        unread = _unread(user_id)
        up_to = unread.aggregate(top=Max("id"))["top"]
        if up_to is None:
            return 0
        changed = unread.filter(id__lte=up_to).update(read_at=now)
        Notification.objects.filter(user_id=user_id, id__lte=up_to, seen_at=None).update(
            seen_at=now
        )
    _push_unread_after_commit(user_id, "read_all", up_to=up_to)
    return changed


def notification_history(
    *, user: Any, before: int | None = None, limit: int = 20
) -> tuple[list[Notification], int | None]:
    """A page of history, newest first, and the ``before`` cursor of the next page (or None)."""
    rows = Notification.objects.filter(user_id=_user_id(user), archived_at=None)
    if before:
        rows = rows.filter(id__lt=before)
    page = list(rows.order_by("-id")[: limit + 1])
    next_before = page[limit - 1].pk if len(page) > limit else None
    return page[:limit], next_before


def hub_snapshot(*, user: Any, since: int) -> dict[str, Any]:
    """The ``snapshot`` frame: unread count, what was missed since ``since``, active jobs.

    At most the newest REPLAY_LIMIT missed notifications are sent, oldest first; with more
    (or with a cursor this server never issued) ``resync`` tells the client to reload
    its history over HTTP. ``cursor`` is the newest id the user has, for the next hello.
    """
    user_id = _user_id(user)
    mine = Notification.objects.filter(user_id=user_id)
    cursor = mine.aggregate(top=Max("id"))["top"] or 0
    missed = list(mine.filter(id__gt=since, archived_at=None).order_by("-id")[: REPLAY_LIMIT + 1])
    resync = len(missed) > REPLAY_LIMIT or since > cursor
    missed = missed[:REPLAY_LIMIT]
    missed.reverse()
    jobs = ExportJob.objects.filter(owner_id=user_id, status__in=ExportJob.ACTIVE_STATUSES)
    return {
        "type": "snapshot",
        "unread": unread_count(user=user_id),
        "notifications": [serialize_notification(n) for n in missed],
        "resync": resync,
        "cursor": cursor,
        "jobs": [job_frame(job) for job in jobs.order_by("created_at", "id")],
    }


# --- retention ------------------------------------------------------------------------


def notifications_prune(
    *, retention_days: int, cap: int, now: datetime | None = None
) -> dict[str, int]:
    """Delete read notifications older than ``retention_days`` and history beyond ``cap``."""
    cutoff = (now or timezone.now()) - timedelta(days=retention_days)
    expired, _ = Notification.objects.filter(read_at__isnull=False, created_at__lt=cutoff).delete()
    over_cap = 0
    if cap > 0:
        crowded = Notification.objects.values("user_id").annotate(n=Count("id")).filter(n__gt=cap)
        for row in crowded:
            newest = Notification.objects.filter(user_id=row["user_id"]).order_by("-id")
            boundary = newest.values_list("id", flat=True)[cap]
            deleted, _ = Notification.objects.filter(
                user_id=row["user_id"], id__lte=boundary
            ).delete()
            over_cap += deleted
    return {"expired": expired, "over_cap": over_cap}
