from __future__ import annotations

import pytest

from games.models import GameVideo

pytestmark = pytest.mark.django_db


def test_scheduled_cleanup_abandons_old_unfinished_uploads(user, settings):
    from datetime import timedelta

    from django.utils import timezone

    from games import services
    from games.tasks import cleanup_uploads

    game = services.game_create(owner=user, title="Never finished")
    video = GameVideo.objects.create(game=game, original_name="big.mp4", expected_size=10)
    GameVideo.objects.filter(pk=video.pk).update(
        created_at=timezone.now() - timedelta(hours=settings.UPLOAD_ABANDON_HOURS + 1)
    )
    report = cleanup_uploads()
    assert report["videos_abandoned"] == 1
    assert GameVideo.objects.get(pk=video.pk).status == GameVideo.Status.INVALID
