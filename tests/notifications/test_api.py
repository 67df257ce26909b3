"""/api/notifications: history by cursor, unread count, toast claims, read / seen / archive,
CSRF, errors."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from unittest import mock

import pytest
from django.db import connections
from django.test import Client

from notifications import services
from notifications.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_live_push():
    with mock.patch.object(services.publisher, "send"):
        yield


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


@pytest.fixture
def five(user):
    return [services.notify(user=user, kind="info", title=f"n{i}") for i in range(5)]


def test_anonymous_gets_a_json_401(client):
    response = client.get("/api/notifications")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthenticated"


def test_history_pages_newest_first_by_cursor(client_user, five):
    first = client_user.get("/api/notifications?limit=3").json()
    assert [n["title"] for n in first["items"]] == ["n4", "n3", "n2"]
    assert first["unread"] == 5
    assert first["items"][0]["actions"] == [] and first["items"][0]["read_at"] is None
    rest = client_user.get(f"/api/notifications?limit=3&before={first['next']}").json()
    assert [n["title"] for n in rest["items"]] == ["n1", "n0"]
    assert rest["next"] is None


def test_history_shows_only_the_users_own(client_other, five):
    assert client_other.get("/api/notifications").json()["items"] == []


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "before=abc", "before=0"])
def test_bad_paging_is_a_422_with_fields(client_user, query):
    response = client_user.get(f"/api/notifications?{query}")
    assert response.status_code == 422
    assert response.json()["error"]["fields"]


def test_read_ids_then_all_updates_the_unread_count(client_user, five):
    assert client_user.get("/api/notifications/unread-count").json() == {"count": 5}
    response = post(client_user, "/api/notifications/read", {"ids": [five[0].pk, five[1].pk]})
    assert response.status_code == 200
    assert response.json() == {"updated": 2, "unread": 3}
    assert post(client_user, "/api/notifications/read", {"all": True}).json() == {
        "updated": 3,
        "unread": 0,
    }


def test_marking_another_users_ids_changes_nothing(client_other, five):
    response = post(client_other, "/api/notifications/read", {"ids": [n.pk for n in five]})
    assert response.json() == {"updated": 0, "unread": 0}
    assert post(client_other, "/api/notifications/archive", {"ids": [five[0].pk]}).json() == {
        "updated": 0,
        "unread": 0,
    }
    assert Notification.objects.filter(read_at=None, archived_at=None).count() == 5


def test_seen_and_archive(client_user, five):
    assert post(client_user, "/api/notifications/seen", {"ids": [five[0].pk]}).json() == {
        "updated": 1,
        "unread": 5,
    }
    assert post(client_user, "/api/notifications/archive", {"ids": [five[1].pk]}).json() == {
        "updated": 1,
        "unread": 4,
    }
    titles = [n["title"] for n in client_user.get("/api/notifications").json()["items"]]
    assert "n1" not in titles


def claim(client, note) -> bool:
    response = client.post(f"/api/notifications/{note.pk}/claim-toast")
    assert response.status_code == 200
    return response.json()["claimed"]


def test_one_claim_per_notification_wins_the_toast_and_marks_it_seen(client_user, five):
    assert claim(client_user, five[0]) is True
    assert claim(client_user, five[0]) is False
    five[0].refresh_from_db()
    assert five[0].seen_at is not None and five[0].read_at is None
    assert client_user.get("/api/notifications/unread-count").json() == {"count": 5}


def test_seen_read_or_archived_notifications_are_never_claimed(client_user, five):
    post(client_user, "/api/notifications/seen", {"ids": [five[0].pk]})
    post(client_user, "/api/notifications/read", {"ids": [five[1].pk]})
    post(client_user, "/api/notifications/archive", {"ids": [five[2].pk]})
    assert [claim(client_user, note) for note in five] == [False, False, False, True, True]


def test_another_users_notification_cannot_be_claimed(client_other, five):
    assert claim(client_other, five[0]) is False
    assert client_other.post("/api/notifications/999999/claim-toast").json() == {"claimed": False}
    assert not Notification.objects.exclude(seen_at=None).exists()


@pytest.mark.django_db(transaction=True)
def test_tabs_racing_for_one_toast_have_exactly_one_winner(user):
    """Eight tabs ask at the same moment, each on its own connection: one is told yes."""
    note = services.notify(user=user, kind="export.completed", title="Reel ready")
    tabs = 8
    start = threading.Barrier(tabs)

    def tab_claims(_) -> bool:
        client = Client()
        client.force_login(user)
        start.wait()
        try:
            return claim(client, note)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(tabs) as pool:
        answers = list(pool.map(tab_claims, range(tabs)))
    assert answers.count(True) == 1, answers


@pytest.mark.parametrize(
    "body",
    [{}, {"ids": [1], "all": True}, {"ids": "1"}, {"ids": [1] * 501}, {"all": "yes please"}],
)
def test_bad_read_bodies_are_422_with_the_error_shape(client_user, body):
    response = post(client_user, "/api/notifications/read", body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid" and error["message"] and error["fields"]


def test_malformed_json_is_a_400(client_user):
    response = client_user.post("/api/notifications/read", "{nope", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["message"]


def test_writes_need_the_csrf_token(user, five):
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    refused = post(client, "/api/notifications/read", {"all": True})
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    assert Notification.objects.filter(read_at=None).count() == 5

    client.get("/admin/login/")  # any page that sets the CSRF cookie
    token = client.cookies["csrftoken"].value
    accepted = client.post(
        "/api/notifications/read",
        json.dumps({"all": True}),
        content_type="application/json",
        headers={"X-CSRFToken": token},
    )
    assert accepted.status_code == 200


def test_endpoints_are_in_the_openapi_document(client_user):
    paths = client_user.get("/api/openapi.json").json()["paths"]
    for path in (
        "/api/notifications",
        "/api/notifications/unread-count",
        "/api/notifications/read",
        "/api/notifications/seen",
        "/api/notifications/archive",
        "/api/notifications/{notification_id}/claim-toast",
    ):
        assert path in paths
