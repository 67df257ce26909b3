"""notify_user and prune_notifications: what operators run."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from unittest import mock

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from notifications import services
from notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_live_push():
    with mock.patch.object(services.publisher, "send"):
        yield


def test_notify_user_sends_a_plain_warning(user):
    out = StringIO()
    call_command(
        "notify_user", "coach", "warning", "Disk nearly full", message="80 % used", stdout=out
    )
    note = Notification.objects.get(user=user)
    assert (note.kind, note.level, note.title, note.message) == (
        "warning",
        "warning",
        "Disk nearly full",
        "80 % used",
    )
    assert f"Sent notification {note.pk}" in out.getvalue()


def test_notify_user_refuses_an_unknown_user_or_level(user):
    with pytest.raises(CommandError, match="No user"):
        call_command("notify_user", "nobody", "info", "Hi")
    with pytest.raises(CommandError):
        call_command("notify_user", "coach", "shout", "Hi")
    assert not Notification.objects.exists()


def test_prune_uses_the_retention_setting(user, settings):
    settings.NOTIFICATION_RETENTION_DAYS = 30
    note = services.notify(user=user, kind="info", title="old")
    services.notifications_mark_read(user=user, ids=[note.pk])
    Notification.objects.filter(pk=note.pk).update(created_at=timezone.now() - timedelta(days=31))
    out = StringIO()
    call_command("prune_notifications", stdout=out)
    assert not Notification.objects.exists()
    assert "Deleted 1 read notification(s) older than 30 days" in out.getvalue()
