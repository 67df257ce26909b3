"""Export jobs: durable renders with an explicit state machine."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class IllegalTransition(Exception):
    """A status change the job's state machine does not allow (a bug in the caller)."""


class ExportJob(models.Model):
    class Kind(models.TextChoices):
        ANNOTATE = "annotate", "Annotated compilation"
        FRAMING = "framing", "Framing (working video)"
        OVERLAY = "overlay", "Overlay (final video)"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        PROCESSING = "processing", "Processing"
        COMPLETE = "complete", "Complete"
        ERROR = "error", "Error"
        CANCELLED = "cancelled", "Cancelled"

    class Backend(models.TextChoices):
        LOCAL = "local", "Local"
        MODAL = "modal", "Modal"

    ACTIVE_STATUSES = (Status.PENDING, Status.PROCESSING)
    FINISHED_STATUSES = (Status.COMPLETE, Status.ERROR, Status.CANCELLED)
    # processing -> pending is the reaper re-queueing a job whose worker was lost.
    TRANSITIONS = {
        Status.PENDING: {Status.PROCESSING, Status.CANCELLED, Status.ERROR},
        Status.PROCESSING: {Status.COMPLETE, Status.ERROR, Status.CANCELLED, Status.PENDING},
    }

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="export_jobs"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    game = models.ForeignKey(
        "games.Game", null=True, blank=True, on_delete=models.SET_NULL, related_name="export_jobs"
    )
    project = models.ForeignKey(
        "games.Project",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="export_jobs",
    )
    options = models.JSONField(default=dict, blank=True)
    input_snapshot = models.JSONField(default=dict, blank=True)
    backend = models.CharField(max_length=8, choices=Backend.choices, default=Backend.LOCAL)
    remote_call_id = models.CharField(max_length=128, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    max_attempts = models.PositiveSmallIntegerField(default=3)
    worker_id = models.CharField(max_length=128, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested_at = models.DateTimeField(null=True, blank=True)
    stage = models.CharField(max_length=32, blank=True)
    progress = models.FloatField(default=0)
    items_done = models.PositiveIntegerField(default=0)
    items_total = models.PositiveIntegerField(default=0)
    message = models.CharField(max_length=255, blank=True)
    eta_seconds = models.PositiveIntegerField(null=True, blank=True)
    output_file = models.FileField(max_length=500, blank=True)
    output_size = models.BigIntegerField(null=True, blank=True)
    output_duration = models.FloatField(null=True, blank=True)
    # Further stored files of the job (annotate: each clip on its own): [{name, file, size}].
    extra_files = models.JSONField(default=list, blank=True)
    error = models.CharField(max_length=500, blank=True)
    error_detail = models.TextField(blank=True)
    idempotency_key = models.CharField(max_length=128, null=True, blank=True)
    retry_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="retries"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=models.Q(idempotency_key__isnull=False),
                name="export_idempotency_key_unique_per_owner",
            )
        ]
        indexes = [
            models.Index(fields=["owner", "status"], name="export_owner_status"),
            models.Index(fields=["status", "heartbeat_at"], name="export_status_heartbeat"),
            models.Index(fields=["project", "-created_at"], name="export_project_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} #{self.pk} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE_STATUSES

    @property
    def is_finished(self) -> bool:
        return self.status in self.FINISHED_STATUSES

    def transition(self, to: str, *, where: dict | None = None, **fields) -> bool:
        """Move from the current status to ``to`` with one conditional update.

        The row changes only if it is still in the status this instance holds (and
        matches ``where``), so two processes racing for the same move cannot both win.
        Returns False when another process got there first; raises IllegalTransition for a
        move the state machine never allows.
        """
        frm = self.status
        if to not in self.TRANSITIONS.get(frm, ()):
            raise IllegalTransition(f"An export cannot go from {frm} to {to}.")
        fields["updated_at"] = timezone.now()
        changed = ExportJob.objects.filter(pk=self.pk, status=frm, **(where or {})).update(
            status=to, **fields
        )
        if changed:
            self.status = to
            for key, value in fields.items():
                if hasattr(value, "resolve_expression"):
                    self.refresh_from_db(fields=[key])
                else:
                    setattr(self, key, value)
        return bool(changed)
