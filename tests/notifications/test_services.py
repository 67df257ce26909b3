"""notify / mark / history / snapshot / prune: exactly-once, isolation, validation, retention."""

from __future__ import annotations

import threading
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection
from django.utils import timezone

from config.errors import ApiError
from notifications import services
from notifications.models import Notification


@pytest.fixture
def pushes():
    """The frames services hand to the publisher (the socket tests cover delivery)."""
    with mock.patch.object(services.publisher, "send") as send:
        yield send


@pytest.mark.django_db
def test_notify_persists_and_pushes_one_frame_after_commit(
    user, pushes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        note = services.notify(
            user=user,
            kind="export.completed",
            level="success",
            title="Reel ready",
            data={"job_id": 7},
            actions=[{"label": "Download", "url": "/api/exports/7/download"}],
        )
        assert not pushes.called  # nothing leaves before the row is committed
    assert note.actions == [
        {"label": "Download", "url": "/api/exports/7/download", "method": "GET"}
    ]
    group, message = pushes.call_args.args
    assert group == f"hub.user.{user.pk}"
    assert (message["type"], message["id"]) == ("hub.notification", note.pk)


@pytest.mark.django_db
def test_same_event_key_twice_creates_one_notification_and_one_push(
    user, pushes, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.notify(user=user, kind="export.completed", title="Done", event_key="x:1")
        again = services.notify(user=user, kind="export.completed", title="Done", event_key="x:1")
    assert first.pk == again.pk
    assert Notification.objects.filter(user=user).count() == 1
    assert pushes.call_count == 1


@pytest.mark.django_db
def test_event_key_is_per_user(user, other_user, pushes):
    services.notify(user=user, kind="info", title="A", event_key="same")
    services.notify(user=other_user, kind="info", title="B", event_key="same")
    assert Notification.objects.count() == 2


@pytest.mark.django_db(transaction=True)
def test_two_racing_producers_of_one_event_create_one_notification(user, pushes):
    barrier = threading.Barrier(4)
    results, errors = [], []

    def produce() -> None:
        try:
            barrier.wait()
            note = services.notify(
                user=user.pk, kind="export.failed", title="Failed", event_key="export:9:failed"
            )
            results.append(note.pk)
        except Exception as exc:  # pragma: no cover - the assertion below shows it
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=produce) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(set(results)) == 1 and len(results) == 4
    assert Notification.objects.filter(event_key="export:9:failed").count() == 1
    assert pushes.call_count == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("kind", {"kind": "Not A Kind"}),
        ("level", {"level": "catastrophic"}),
        ("title", {"title": "   "}),
        ("actions", {"actions": [{"label": "Go"}]}),
        ("actions", {"actions": [{"label": "Go", "url": "/x", "method": "DELETE"}]}),
        ("data", {"data": {"when": object()}}),
    ],
)
def test_invalid_notification_is_refused_and_nothing_is_saved(user, pushes, field, kwargs):
    arguments = {"user": user, "kind": "info", "title": "Hello", **kwargs}
    with pytest.raises(ApiError) as raised:
        services.notify(**arguments)
    assert raised.value.status == 422 and field in raised.value.fields
    assert not Notification.objects.exists()
    assert not pushes.called


@pytest.mark.django_db
def test_a_long_title_is_shortened_not_lost(user, pushes):
    note = services.notify(user=user, kind="info", title="x" * 500)
    assert len(note.title) == 200 and note.title.endswith("…")


@pytest.mark.django_db
def test_history_is_capped_per_user(user, other_user, settings, pushes):
    settings.NOTIFICATION_HISTORY_CAP = 3
    services.notify(user=other_user, kind="info", title="theirs")
    for i in range(5):
        services.notify(user=user, kind="info", title=f"n{i}")
    titles = list(Notification.objects.filter(user=user).values_list("title", flat=True))
    assert titles == ["n4", "n3", "n2"]
    assert Notification.objects.filter(user=other_user).count() == 1


@pytest.mark.django_db
def test_marking_changes_only_the_callers_rows_and_pushes_only_real_changes(
    user, other_user, pushes, django_capture_on_commit_callbacks
):
    mine = services.notify(user=user, kind="info", title="mine")
    theirs = services.notify(user=other_user, kind="info", title="theirs")
    pushes.reset_mock()

    with django_capture_on_commit_callbacks(execute=True):
        assert services.notifications_mark_read(user=other_user, ids=[mine.pk]) == 0
        assert services.notification_archive(user=other_user, ids=[mine.pk]) == 0
    assert not pushes.called
    mine.refresh_from_db()
    assert (mine.read_at, mine.archived_at) == (None, None)

    with django_capture_on_commit_callbacks(execute=True):
        assert services.notifications_mark_read(user=user, ids=[mine.pk, theirs.pk]) == 1
        assert services.notifications_mark_read(user=user, ids=[mine.pk]) == 0  # already read
    assert pushes.call_count == 1
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert mine.read_at and mine.seen_at and theirs.read_at is None


@pytest.mark.django_db
def test_unread_count_ignores_read_and_archived(user, pushes):
    notes = [services.notify(user=user, kind="info", title=f"n{i}") for i in range(4)]
    services.notifications_mark_read(user=user, ids=[notes[0].pk])
    services.notification_archive(user=user, ids=[notes[1].pk])
    services.notifications_mark_seen(user=user, ids=[notes[2].pk])
    assert services.unread_count(user=user) == 2
    assert services.notifications_mark_all_read(user=user) == 2
    assert services.unread_count(user=user) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("ids", ["1,2", [1, "2"], [True], [0], list(range(1, 600)), None])
def test_bad_ids_are_refused(user, ids):
    with pytest.raises(ApiError) as raised:
        services.notifications_mark_read(user=user, ids=ids)
    assert raised.value.fields and "ids" in raised.value.fields


@pytest.mark.django_db
def test_history_pages_by_cursor_newest_first_without_archived(user, pushes):
    notes = [services.notify(user=user, kind="info", title=f"n{i}") for i in range(5)]
    services.notification_archive(user=user, ids=[notes[3].pk])
    page, next_before = services.notification_history(user=user, limit=2)
    assert [n.title for n in page] == ["n4", "n2"]
    page, next_before = services.notification_history(user=user, before=next_before, limit=2)
    assert [n.title for n in page] == ["n1", "n0"]
    assert next_before is None


@pytest.mark.django_db
def test_snapshot_with_an_unknown_cursor_asks_for_a_resync(user, pushes):
    note = services.notify(user=user, kind="info", title="n")
    snapshot = services.hub_snapshot(user=user, since=note.pk + 1000)
    assert snapshot["resync"] is True and snapshot["cursor"] == note.pk


@pytest.mark.django_db
def test_prune_deletes_old_read_notifications_and_history_beyond_the_cap(user, other_user, pushes):
    old_read = services.notify(user=user, kind="info", title="old read")
    old_unread = services.notify(user=user, kind="info", title="old unread")
    recent_read = services.notify(user=user, kind="info", title="recent read")
    services.notifications_mark_read(user=user, ids=[old_read.pk, recent_read.pk])
    long_ago = timezone.now() - timedelta(days=91)
    Notification.objects.filter(pk__in=[old_read.pk, old_unread.pk]).update(created_at=long_ago)
    for i in range(4):
        services.notify(user=other_user, kind="info", title=f"r{i}")

    result = services.notifications_prune(retention_days=90, cap=3)

    assert result == {"expired": 1, "over_cap": 1}
    assert set(Notification.objects.filter(user=user).values_list("title", flat=True)) == {
        "old unread",
        "recent read",
    }
    assert list(Notification.objects.filter(user=other_user).values_list("title", flat=True)) == [
        "r3",
        "r2",
        "r1",
    ]
