"""Admin for export jobs: find them, read the diagnostics, cancel / retry / run the reaper."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.html import format_html

from config.errors import ApiError
from exports import services
from exports.models import ExportJob

DIAGNOSTIC_FIELDS = (
    "status",
    "backend",
    "remote_call_id",
    "attempts",
    "worker_id",
    "heartbeat_at",
    "cancel_requested_at",
    "stage",
    "progress",
    "items_done",
    "items_total",
    "message",
    "eta_seconds",
    "output_link",
    "output_size",
    "output_duration",
    "extra_files",
    "error",
    "error_detail",
    "input_snapshot",
    "idempotency_key",
    "retry_of",
    "created_at",
    "updated_at",
    "started_at",
    "completed_at",
)


@admin.register(ExportJob)
class ExportJobAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "kind",
        "status",
        "owner",
        "backend",
        "progress_percent",
        "attempts",
        "worker_id",
        "created_at",
        "error",
    )
    list_filter = ("status", "kind", "backend", "owner")
    search_fields = ("id", "owner__username", "project__name", "game__title", "error", "worker_id")
    date_hierarchy = "created_at"
    list_select_related = ("owner",)
    readonly_fields = DIAGNOSTIC_FIELDS
    fields = ("owner", "kind", "game", "project", "options", "max_attempts", "acknowledged_at")
    fields = (*fields, *DIAGNOSTIC_FIELDS)
    raw_id_fields = ("owner", "game", "project")
    actions = ("cancel_jobs", "retry_jobs", "run_reaper")

    def has_add_permission(self, request) -> bool:
        return False  # jobs are started through the API (snapshot, queue, cap)

    @admin.display(description="progress")
    def progress_percent(self, job: ExportJob) -> str:
        return f"{job.progress:.0f} %"

    @admin.display(description="output")
    def output_link(self, job: ExportJob) -> str:
        if not job.output_file:
            return "—"
        return format_html(
            '<a href="/api/exports/{}/download">{}</a>', job.pk, job.output_file.name
        )

    @admin.action(description="Cancel the selected exports")
    def cancel_jobs(self, request, queryset) -> None:
        done = 0
        for job in queryset.filter(status__in=ExportJob.ACTIVE_STATUSES):
            services.export_cancel(job=job, by=request.user)
            done += 1
        self.message_user(request, f"Cancel requested for {done} export(s).")

    @admin.action(description="Retry the selected exports (failed or cancelled)")
    def retry_jobs(self, request, queryset) -> None:
        started, refused = 0, []
        for job in queryset:
            try:
                services.export_retry(job=job, user=job.owner)
                started += 1
            except ApiError as exc:
                refused.append(f"#{job.pk}: {exc.message}")
        self.message_user(request, f"Started {started} new export(s).")
        if refused:
            self.message_user(request, "; ".join(refused), level=messages.WARNING)

    @admin.action(description="Run the reaper now (all stale jobs, not only the selected)")
    def run_reaper(self, request, queryset) -> None:
        counts = services.exports_reap()
        self.message_user(request, f"Reaper: {counts}")
