from __future__ import annotations

from django.contrib import admin

from games.models import Clip, Game, GameVideo, Project, ProjectClip


class GameVideoInline(admin.TabularInline):
    model = GameVideo
    extra = 0
    readonly_fields = (
        "status", "error", "size", "duration", "fps", "width", "height",
        "video_codec", "audio_codec", "has_audio", "rotation", "sha256",
    )  # fmt: skip


@admin.register(Game)
class GameAdmin(admin.ModelAdmin):
    list_display = ("title", "owner", "status", "created_at")
    list_filter = ("status",)
    search_fields = ("title", "owner__username")
    inlines = [GameVideoInline]


@admin.register(Clip)
class ClipAdmin(admin.ModelAdmin):
    list_display = ("__str__", "game", "start", "end", "rating")
    list_filter = ("rating",)
    search_fields = ("name", "notes", "game__title")


class ProjectClipInline(admin.StackedInline):
    model = ProjectClip
    extra = 0


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "owner", "game", "aspect", "version", "updated_at")
    list_filter = ("aspect",)
    search_fields = ("name", "owner__username")
    inlines = [ProjectClipInline]
