"""Notification hub services (placeholder API; the hub work fills these in)."""

from __future__ import annotations

from notifications.models import Notification


def notify(
    *,
    user,
    kind: str,
    title: str,
    message: str = "",
    level: str = Notification.Level.INFO,
    data: dict | None = None,
    actions: list[dict] | None = None,
    event_key: str | None = None,
) -> Notification:
    notification, _ = Notification.objects.get_or_create(
        user=user,
        event_key=event_key,
        defaults={
            "kind": kind,
            "title": title,
            "message": message,
            "level": level,
            "data": data or {},
            "actions": actions or [],
        },
    ) if event_key else (
        Notification.objects.create(
            user=user, kind=kind, title=title, message=message, level=level,
            data=data or {}, actions=actions or [],
        ),
        True,
    )  # fmt: skip
    return notification


def publish_job(job) -> None:
    """Push an ephemeral ``job`` frame to the owner's tabs (no row)."""
