from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from notifications import services
from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "kind", "level", "title", "created_at", "seen_at", "read_at")
    list_filter = ("level", "kind", ("read_at", admin.EmptyFieldListFilter), "created_at")
    search_fields = ("title", "message", "user__username", "event_key")
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "event_key")
    date_hierarchy = "created_at"
    actions = ("mark_read", "archive")

    @admin.action(description="Mark read (pushes the unread count to the user's tabs)")
    def mark_read(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        self._per_user(request, queryset, services.notifications_mark_read, "marked read")

    @admin.action(description="Archive")
    def archive(self, request: HttpRequest, queryset: QuerySet[Notification]) -> None:
        self._per_user(request, queryset, services.notification_archive, "archived")

    def _per_user(self, request, queryset, service, done: str) -> None:
        by_user: dict[int, list[int]] = {}
        for user_id, pk in queryset.values_list("user_id", "id"):
            by_user.setdefault(user_id, []).append(pk)
        changed = 0
        for user_id, ids in by_user.items():
            for start in range(0, len(ids), services.MAX_IDS):
                changed += service(user=user_id, ids=ids[start : start + services.MAX_IDS])
        self.message_user(request, f"{changed} notification(s) {done}.")
