"""manage.py cleanup_uploads: abandoned uploads are aborted, fresh ones left alone."""

from __future__ import annotations

import json
import os
import time
from datetime import timedelta

import pytest
import requests
from django.core.management import call_command
from django.utils import timezone

from games import uploads
from games.models import GameVideo
from notifications.models import Notification
from tests.storage.conftest import MIB

pytestmark = pytest.mark.django_db


def start(client, *, size, title="Game"):
    game_id = client.post(
        "/api/games", json.dumps({"title": title}), content_type="application/json"
    ).json()["id"]
    body = {"game_id": game_id, "name": "m.mp4", "size": size}
    return client.post("/api/uploads", json.dumps(body), content_type="application/json").json()


def test_abandoned_multipart_uploads_are_aborted_and_fresh_ones_kept(client_user, user, s3):
    old = start(client_user, size=12 * MIB, title="Old")
    fresh = start(client_user, size=12 * MIB, title="Fresh")
    signed = client_user.post(
        "/api/uploads/parts",
        json.dumps({"key": old["key"], "part_numbers": [1]}),
        content_type="application/json",
    ).json()["parts"][0]
    requests.put(signed["url"], data=b"\0" * 5 * MIB, timeout=30)
    GameVideo.objects.filter(pk=old["video_id"]).update(
        created_at=timezone.now() - timedelta(hours=30)
    )
    # A multipart upload no video knows about (a crash between S3 and the database).
    orphan = s3.client.create_multipart_upload(Bucket=s3.bucket, Key=s3.key("u9/stray.mp4"))

    call_command("cleanup_uploads", "--older-than-hours", "24")
    # moto reports every multipart upload as initiated in 2010, so the orphan counts as old
    # and is aborted, and the fresh upload survives only because a video still owns it.
    assert [u["UploadId"] for u in s3.multipart_uploads()] == [fresh["upload_id"]]
    assert orphan["UploadId"] != fresh["upload_id"]

    abandoned = GameVideo.objects.get(pk=old["video_id"])
    assert abandoned.status == "invalid"
    assert "not finished within 24 hours" in abandoned.error
    assert abandoned.game.status == "invalid"
    assert Notification.objects.filter(user=user, kind="upload.failed").count() == 1
    assert GameVideo.objects.get(pk=fresh["video_id"]).status == "uploading"

    report = uploads.uploads_cleanup(
        older_than=timedelta(hours=1), now=timezone.now() + timedelta(hours=2)
    )
    assert (report.videos_abandoned, report.multipart_aborted) == (1, 0)
    assert s3.multipart_uploads() == []
    assert GameVideo.objects.get(pk=fresh["video_id"]).status == "invalid"


def test_stale_temporary_files_of_app_uploads_are_removed(settings):
    folder = uploads.incoming_dir()
    stale, fresh = folder / "upload-old.part", folder / "upload-new.part"
    stale.write_bytes(b"x")
    fresh.write_bytes(b"y")
    old = time.time() - 3 * 86400
    os.utime(stale, (old, old))
    report = uploads.uploads_cleanup(older_than=timedelta(hours=24))
    assert report.temp_files_removed == 1
    assert not stale.exists() and fresh.exists()
