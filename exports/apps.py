from __future__ import annotations

from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "exports"
    verbose_name = "Export jobs"

    def ready(self) -> None:
        # The reaper runs whenever a qcluster worker process starts (django-q2 sends
        # post_spawn only in worker processes, so web processes never run it).
        from django_q.signals import post_spawn

        from exports.tasks import on_worker_start

        post_spawn.connect(on_worker_start, dispatch_uid="exports.reap_on_worker_start")

        from django.core import checks

        from exports.checks import check_modal

        checks.register(check_modal)
