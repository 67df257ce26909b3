from __future__ import annotations

from django.apps import AppConfig
from django.conf import settings
from django.core import checks


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Export jobs"

    def ready(self) -> None:
        # The reaper runs whenever a qcluster worker process starts (django-q2 sends
        # post_spawn only in worker processes, so web processes never run it).
        from django_q.signals import post_spawn

        from exports.tasks import on_worker_start

        post_spawn.connect(on_worker_start, dispatch_uid="exports.reap_on_worker_start")
        checks.register(check_heartbeat)

        from exports.checks import check_modal

        checks.register(check_modal)


def check_heartbeat(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A heartbeat must come well within the stale limit, or the reaper steals live jobs."""
    beat, stale = settings.EXPORT_HEARTBEAT_SECONDS, settings.EXPORT_STALE_AFTER_SECONDS
    if beat < 1 or stale < 3 * beat:
        return [
            checks.Error(
                f"EXPORT_STALE_AFTER_SECONDS ({stale}) must be at least three heartbeats "
                f"(EXPORT_HEARTBEAT_SECONDS={beat}, at least 1).",
                hint="A worker that is merely slow to write would be taken for lost.",
                id="exports.E001",
            )
        ]
    return []
