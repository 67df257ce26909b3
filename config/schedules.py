"""The periodic tasks Reelforge runs on django-q2's scheduler, created on every worker start."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Periodic:
    name: str
    func: str
    minutes: int


def periodic_tasks() -> list[Periodic]:
    return [
        Periodic(
            "reelforge: reap export jobs",
            "exports.tasks.reap_exports",
            max(int(settings.EXPORT_REAP_EVERY_MINUTES), 1),
        ),
        Periodic("reelforge: clean up abandoned uploads", "games.tasks.cleanup_uploads", 60),
    ]


def ensure_schedules() -> None:
    """Create (or retime) each periodic task's django-q2 Schedule; idempotent."""
    from django_q.models import Schedule

    for task in periodic_tasks():
        schedule, created = Schedule.objects.get_or_create(
            name=task.name,
            defaults={
                "func": task.func,
                "schedule_type": Schedule.MINUTES,
                "minutes": task.minutes,
                "repeats": -1,
            },
        )
        if not created and (schedule.minutes, schedule.func) != (task.minutes, task.func):
            Schedule.objects.filter(pk=schedule.pk).update(minutes=task.minutes, func=task.func)
