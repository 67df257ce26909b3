"""Games (one or more video files), their clips, and projects built from clips."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F

from games import validation
from games.presets import ASPECT_CHOICES, ASPECT_PRESETS, RATINGS, TRANSITIONS


class OwnedQuerySet(models.QuerySet):
    def owned_by(self, user) -> OwnedQuerySet:
        return self.filter(owner=user)


def game_video_upload_to(instance: GameVideo, filename: str) -> str:
    return f"u{instance.game.owner_id}/games/{instance.game_id}/{filename}"


class Game(models.Model):
    class Status(models.TextChoices):
        UPLOADING = "uploading", "Uploading"
        READY = "ready", "Ready"
        INVALID = "invalid", "Invalid"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="games"
    )
    title = models.CharField(max_length=200)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADING)
    status_reason = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"])]

    def __str__(self) -> str:
        return self.title

    def ready_videos(self) -> list[GameVideo]:
        return [v for v in self.videos.all() if v.status == GameVideo.Status.READY]

    @property
    def duration(self) -> float:
        return round(sum(v.duration or 0 for v in self.ready_videos()), 3)

    @property
    def size(self) -> int:
        return sum(v.size or 0 for v in self.videos.all())

    @property
    def main_video(self) -> GameVideo | None:
        videos = self.ready_videos()
        return videos[0] if videos else None

    def refresh_status(self) -> None:
        """Derive the game's status from its videos: any in flight, any ready, else invalid."""
        statuses = set(self.videos.values_list("status", flat=True))
        if not statuses or statuses & set(GameVideo.ACTIVE_STATUSES):
            status, reason = Game.Status.UPLOADING, ""
        elif GameVideo.Status.READY in statuses:
            status, reason = Game.Status.READY, ""
        else:
            first_error = self.videos.exclude(error="").values_list("error", flat=True).first()
            status, reason = Game.Status.INVALID, first_error or "No readable video."
        Game.objects.filter(pk=self.pk).update(status=status, status_reason=reason)
        self.status, self.status_reason = status, reason

    def video_at(self, t: float) -> GameVideo | None:
        """The video file that plays at game time ``t`` (files play one after another)."""
        offset = 0.0
        for video in self.ready_videos():
            if t < offset + (video.duration or 0):
                return video
            offset += video.duration or 0
        return None


class GameVideo(models.Model):
    """One video file of a game, with what the probe read from it."""

    class Status(models.TextChoices):
        UPLOADING = "uploading", "Uploading"
        # Claimed by a confirm: the bytes are being checked (size, hash, probe).
        PROCESSING = "processing", "Checking"
        READY = "ready", "Ready"
        INVALID = "invalid", "Invalid"

    ACTIVE_STATUSES = (Status.UPLOADING, Status.PROCESSING)

    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="videos")
    position = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=game_video_upload_to, max_length=500, blank=True)
    original_name = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.UPLOADING)
    error = models.CharField(max_length=500, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    duration = models.FloatField(null=True, blank=True)
    fps = models.FloatField(null=True, blank=True)
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    video_codec = models.CharField(max_length=32, blank=True)
    audio_codec = models.CharField(max_length=32, blank=True)
    has_audio = models.BooleanField(default=False)
    rotation = models.SmallIntegerField(default=0)
    # Direct (browser to bucket) uploads: the size the client announced, and for a
    # multipart upload its S3 UploadId and part size (kept so a resumed upload agrees).
    expected_size = models.BigIntegerField(null=True, blank=True)
    upload_id = models.CharField(max_length=1024, blank=True)
    part_size = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["status", "created_at"], name="gamevideo_status_created")]

    def __str__(self) -> str:
        return self.original_name or self.file.name

    def apply_probe(self, info) -> None:
        """Copy a ``videokit.probe.VideoInfo`` onto this row."""
        self.duration = info.duration
        self.fps = info.fps
        self.width = info.width
        self.height = info.height
        self.video_codec = info.video_codec
        self.audio_codec = info.audio_codec or ""
        self.has_audio = info.has_audio
        self.rotation = info.rotation
        self.size = info.size


class Clip(models.Model):
    """A moment of a game worth keeping."""

    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="clips")
    start = models.FloatField(validators=[MinValueValidator(0)])
    end = models.FloatField(validators=[MinValueValidator(0)])
    name = models.CharField(max_length=120, blank=True)
    rating = models.PositiveSmallIntegerField(
        default=3, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    tags = models.JSONField(default=list, blank=True)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["start", "id"]

    def __str__(self) -> str:
        return self.name or f"Clip at {self.start:.1f}s"

    @property
    def duration(self) -> float:
        return round(self.end - self.start, 3)

    @property
    def notation(self) -> str:
        return RATINGS[self.rating].notation if self.rating in RATINGS else ""

    @property
    def colour(self) -> str:
        return RATINGS[self.rating].colour if self.rating in RATINGS else "#888888"

    def clean(self) -> None:
        validation.validate_clip(
            start=self.start,
            end=self.end,
            rating=self.rating,
            tags=self.tags,
            game_duration=self.game.duration if self.game_id else None,
        )


def project_upload_to(instance: Project, filename: str) -> str:
    return f"u{instance.owner_id}/projects/{instance.pk}/{filename}"


class Project(models.Model):
    """A highlight reel: clips in order, framed for an aspect, with a working and a final video."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="projects"
    )
    game = models.ForeignKey(Game, on_delete=models.CASCADE, related_name="projects")
    name = models.CharField(max_length=200)
    aspect = models.CharField(max_length=8, choices=ASPECT_CHOICES, default="9:16")
    fps = models.PositiveSmallIntegerField(
        default=30, validators=[MinValueValidator(1), MaxValueValidator(120)]
    )
    version = models.PositiveIntegerField(default=1)
    working_video = models.FileField(upload_to=project_upload_to, max_length=500, blank=True)
    final_video = models.FileField(upload_to=project_upload_to, max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = OwnedQuerySet.as_manager()

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["owner", "-updated_at"])]

    def __str__(self) -> str:
        return self.name

    @property
    def preset(self):
        return ASPECT_PRESETS[self.aspect]

    def bump_version(self, *, expected: int) -> bool:
        """Advance the version if it is still ``expected``; False means another write won."""
        updated = Project.objects.filter(pk=self.pk, version=expected).update(
            version=F("version") + 1
        )
        if updated:
            self.version = expected + 1
        return bool(updated)


class ProjectClip(models.Model):
    """A clip placed in a project, with its framing and highlight regions."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="project_clips")
    clip = models.ForeignKey(Clip, on_delete=models.CASCADE, related_name="project_clips")
    position = models.PositiveIntegerField(default=0)
    crop_keyframes = models.JSONField(default=list, blank=True)
    speed_segments = models.JSONField(default=list, blank=True)
    transition = models.CharField(max_length=16, choices=TRANSITIONS, default="cut")
    transition_duration = models.FloatField(
        default=0.5, validators=[MinValueValidator(0), MaxValueValidator(3)]
    )
    highlight_regions = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.project} #{self.position}: {self.clip}"

    def clean(self) -> None:
        if self.clip.game_id != self.project.game_id:
            raise ValidationError({"clip": "The clip must come from the project's game."})
        video = self.clip.game.video_at(self.clip.start)
        validation.validate_framing(
            crop_keyframes=self.crop_keyframes,
            speed_segments=self.speed_segments,
            highlight_regions=self.highlight_regions,
            clip_duration=self.clip.duration,
            source_size=(video.width, video.height) if video else None,
            preset=self.project.preset,
        )
