"""Persisted notifications: what a user can find later (never progress ticks)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class Notification(models.Model):
    class Level(models.TextChoices):
        INFO = "info", "Info"
        SUCCESS = "success", "Success"
        WARNING = "warning", "Warning"
        ERROR = "error", "Error"

    # The auto-increment id is the replay cursor: clients resume "since" it.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications"
    )
    kind = models.CharField(max_length=48)
    level = models.CharField(max_length=16, choices=Level.choices, default=Level.INFO)
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    data = models.JSONField(default=dict, blank=True)
    actions = models.JSONField(default=list, blank=True)
    # One event (e.g. "export 12 completed") creates one row, however often its producer runs.
    event_key = models.CharField(max_length=128, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    seen_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    archived_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "event_key"],
                condition=models.Q(event_key__isnull=False),
                name="notification_event_once_per_user",
            )
        ]
        indexes = [
            models.Index(
                fields=["user", "id"],
                condition=models.Q(read_at__isnull=True, archived_at__isnull=True),
                name="notification_unread",
            ),
            models.Index(fields=["user", "-id"], name="notification_history"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}: {self.title}"
