"""Input snapshots: what a job renders, read from the database once, at start, and validated.

A job renders its snapshot, never the live project, so an export is reproducible
after the project changes and a worker needs no query but the job row. The
formats are the renderer contract (``exports.renderers``); every check that can
fail here fails at the API with a clear error, before anything is queued.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.files.storage import default_storage

from config.errors import ApiError
from exports.models import ExportJob
from games.models import Clip, Game, GameVideo, Project
from games.validation import clip_output_duration, validate_framing

SCALES = (1, 0.5, 0.25)
OPTIONS = {
    ExportJob.Kind.ANNOTATE: {"clip_ids"},
    ExportJob.Kind.FRAMING: {"scale"},
    ExportJob.Kind.OVERLAY: set(),
}
END_TOLERANCE = 1e-3


def even(value: float) -> int:
    return max(int(round(value / 2.0)) * 2, 2)


def invalid(message: str, fields: dict[str, list[str]] | None = None, code: str = "invalid"):
    return ApiError(422, code, message, fields)


def check_options(kind: str, options) -> dict:
    if options is None:
        return {}
    if not isinstance(options, dict):
        raise invalid("options must be an object.", {"options": ["Must be an object."]})
    unknown = sorted(set(options) - OPTIONS[kind])
    if unknown:
        raise invalid(
            "Some options are not known for this kind of export.",
            {f"options.{key}": [f"Unknown option for a {kind} export."] for key in unknown},
        )
    return dict(options)


# ---------------------------------------------------------------- sources


def source_entry(video: GameVideo, offset: float) -> dict:
    return {
        "key": f"v{video.pk}",
        "name": video.file.name,
        "offset": round(offset, 6),
        "duration": float(video.duration or 0),
        "fps": float(video.fps or 30.0),
        "width": int(video.width or 0),
        "height": int(video.height or 0),
        "has_audio": bool(video.has_audio),
        "rotation": int(video.rotation or 0),
    }


def game_sources(game: Game) -> list[dict]:
    """The game's ready videos in order, each with its start on the game timeline."""
    if game.status != Game.Status.READY or not game.ready_videos():
        raise ApiError(409, "game_not_ready", "The game's video is not ready yet.")
    sources, offset = [], 0.0
    for video in game.ready_videos():
        if not video.file or not default_storage.exists(video.file.name):
            raise ApiError(
                409,
                "source_missing",
                f"The source video {video.original_name or video.file.name} is missing "
                "from storage; upload it again.",
            )
        sources.append(source_entry(video, offset))
        offset += float(video.duration or 0)
    return sources


def check_clip_in_game(clip: Clip, game: Game, field: str) -> None:
    duration = game.duration
    if clip.end > duration + END_TOLERANCE or clip.start < 0 or clip.end <= clip.start:
        raise invalid(
            f"The clip {clip} ({clip.start:.2f}–{clip.end:.2f} s) is outside the game "
            f"({duration:.2f} s long).",
            {field: ["The clip must lie inside the game video."]},
            code="clip_out_of_range",
        )


# ---------------------------------------------------------------- annotate


def annotate_snapshot(game: Game, options: dict) -> dict:
    """Game, ready sources and the chosen clips (``options.clip_ids``, or all) in time order."""
    clips = game.clips.all()
    clip_ids = options.get("clip_ids")
    if clip_ids is not None:
        if not isinstance(clip_ids, list) or not all(
            isinstance(i, int) and not isinstance(i, bool) for i in clip_ids
        ):
            raise invalid(
                "options.clip_ids must be a list of clip ids.",
                {"options.clip_ids": ["A list of clip ids."]},
            )
        clips = clips.filter(pk__in=clip_ids)
        missing = sorted(set(clip_ids) - {c.pk for c in clips})
        if missing:
            raise invalid(
                "Some clips are not in this game.",
                {"options.clip_ids": [f"No such clip in this game: {missing}."]},
            )
    clips = list(clips.order_by("start", "id"))
    if not clips:
        raise invalid("There are no clips to export; mark some moments first.", code="no_clips")
    sources = game_sources(game)
    for clip in clips:
        check_clip_in_game(clip, game, f"clips.{clip.pk}")
    first = sources[0]
    return {
        "kind": "annotate",
        "game": {"id": game.pk, "title": game.title},
        "sources": sources,
        "clips": [
            {
                "id": c.pk,
                "name": c.name,
                "rating": c.rating,
                "notes": c.notes,
                "tags": list(c.tags or []),
                "start": c.start,
                "end": c.end,
            }
            for c in clips
        ],
        "output": {
            "width": even(first["width"]),
            "height": even(first["height"]),
            "fps": int(round(first["fps"] or 30)),
        },
    }


# ---------------------------------------------------------------- framing


def project_clips(project: Project) -> list:
    """The project's clips in order, each checked again (the admin can bypass the API)."""
    items = list(project.project_clips.select_related("clip").order_by("position", "id"))
    if not items:
        raise invalid("The project has no clips; add some first.", code="empty_project")
    game = project.game
    for n, pc in enumerate(items):
        check_clip_in_game(pc.clip, game, f"clips.{n}")
        video = game.video_at(pc.clip.start)
        try:
            validate_framing(
                crop_keyframes=pc.crop_keyframes,
                speed_segments=pc.speed_segments,
                highlight_regions=pc.highlight_regions,
                clip_duration=pc.clip.duration,
                source_size=(video.width, video.height) if video else None,
                preset=project.preset,
            )
        except ValidationError as exc:
            raise invalid(
                f"Clip {n + 1} of the project is not valid.",
                {f"clips.{n}.{key}": msgs for key, msgs in exc.message_dict.items()},
            ) from exc
    return items


def scale_option(options: dict) -> float:
    scale = options.get("scale", 1)
    if isinstance(scale, bool) or scale not in SCALES:
        raise invalid(
            "options.scale must be 1, 0.5 or 0.25.", {"options.scale": ["One of 1, 0.5, 0.25."]}
        )
    return float(scale)


def framing_snapshot(project: Project, options: dict) -> dict:
    """Sources, then each project clip with its crop, speed and transition, at the preset size."""
    scale = scale_option(options)
    items = project_clips(project)
    sources = game_sources(project.game)
    preset = project.preset
    return {
        "kind": "framing",
        "project": {
            "id": project.pk,
            "name": project.name,
            "aspect": project.aspect,
            "width": even(preset.width * scale),
            "height": even(preset.height * scale),
            "fps": int(project.fps),
        },
        "sources": sources,
        "clips": clip_entries(items),
    }


def clip_entries(items: list) -> list[dict]:
    return [
        {
            "id": pc.pk,
            "name": pc.clip.name,
            "start": pc.clip.start,
            "end": pc.clip.end,
            "crop_keyframes": list(pc.crop_keyframes or []),
            "speed_segments": list(pc.speed_segments or []),
            "transition": {"type": pc.transition, "duration": pc.transition_duration},
        }
        for pc in items
    ]


# ---------------------------------------------------------------- overlay


def clip_offsets(clips: list[dict], fps: int) -> list[tuple[float, float]]:
    """(start, length) of each clip in the working video, in whole frames like the renderer.

    Each clip lasts a whole number of frames; a dissolve overlaps a clip with the next
    by its duration (at most half of either clip), so the next one starts that much earlier.
    """
    frames = []
    for clip in clips:
        seconds = clip_output_duration(clip["end"] - clip["start"], clip["speed_segments"])
        frames.append(max(int(round(seconds * fps)), 1))
    spans, cursor = [], 0
    for i, clip in enumerate(clips):
        spans.append((cursor / fps, frames[i] / fps))
        overlap = 0
        transition = clip.get("transition") or {}
        if transition.get("type") == "dissolve" and i < len(clips) - 1:
            limit = min(frames[i], frames[i + 1]) // 2
            overlap = max(min(int(round(float(transition.get("duration") or 0) * fps)), limit), 0)
        cursor += frames[i] - overlap
    return spans


def _timing(clip: dict) -> tuple:
    transition = clip.get("transition") or {}
    return (
        clip["id"],
        round(clip["start"], 3),
        round(clip["end"], 3),
        repr(clip.get("speed_segments") or []),
        transition.get("type"),
        transition.get("duration"),
    )


def working_video_job(project: Project) -> ExportJob | None:
    return (
        ExportJob.objects.filter(
            project=project,
            kind=ExportJob.Kind.FRAMING,
            status=ExportJob.Status.COMPLETE,
            output_file=project.working_video.name,
        )
        .order_by("-completed_at", "-id")
        .first()
    )


def overlay_snapshot(project: Project, options: dict) -> dict:
    """The working video and every clip's highlight regions on the working video's timeline."""
    if not project.working_video:
        raise ApiError(
            409,
            "no_working_video",
            "The project has no working video yet; render the framing first.",
        )
    if not default_storage.exists(project.working_video.name):
        raise ApiError(
            409, "source_missing", "The working video is missing; render the framing again."
        )
    framing = working_video_job(project)
    if framing is None:
        raise ApiError(
            409,
            "stale_working_video",
            "The working video was not made by a framing export; render the framing again.",
        )
    items = project_clips(project)
    rendered = framing.input_snapshot
    current = clip_entries(items)
    if [_timing(c) for c in current] != [_timing(c) for c in rendered["clips"]]:
        raise ApiError(
            409,
            "stale_working_video",
            "The clips changed since the working video was rendered; render the framing again.",
        )
    size = rendered["project"]
    width, height, fps = int(size["width"]), int(size["height"]), int(size["fps"])
    sx, sy = width / project.preset.width, height / project.preset.height
    regions = []
    spans = clip_offsets(rendered["clips"], fps)
    for pc, (offset, length) in zip(items, spans, strict=True):
        for region in pc.highlight_regions or []:
            start = offset + float(region["start"])
            end = min(offset + float(region["end"]), offset + length)
            if end - start <= 0:
                continue
            regions.append(
                {
                    "start": round(start, 6),
                    "end": round(end, 6),
                    "effect": region["effect"],
                    "keyframes": [
                        {
                            "t": float(k["t"]),
                            "x": float(k["x"]) * sx,
                            "y": float(k["y"]) * sy,
                            "rx": float(k["rx"]) * sx,
                            "ry": float(k["ry"]) * sy,
                        }
                        for k in region["keyframes"]
                    ],
                }
            )
    duration = float(framing.output_duration or sum(length for _, length in spans))
    return {
        "kind": "overlay",
        "project": {
            "id": project.pk,
            "name": project.name,
            "aspect": project.aspect,
            "width": width,
            "height": height,
            "fps": fps,
        },
        "working_video": {
            "key": "working",
            "name": project.working_video.name,
            "duration": duration,
            "width": width,
            "height": height,
            "fps": fps,
            "has_audio": True,
        },
        "regions": regions,
    }


# ---------------------------------------------------------------- entry points


def build_snapshot(*, kind: str, game: Game | None, project: Project | None, options) -> dict:
    """The validated snapshot for a new job (raises ApiError with a clear message)."""
    options = check_options(kind, options)
    if kind == ExportJob.Kind.ANNOTATE:
        return annotate_snapshot(game, options)
    if kind == ExportJob.Kind.FRAMING:
        return framing_snapshot(project, options)
    return overlay_snapshot(project, options)


def snapshot_files(snapshot: dict) -> dict[str, str]:
    """Source key -> storage name of every file the render reads."""
    files = {item["key"]: item["name"] for item in snapshot.get("sources") or []}
    working = snapshot.get("working_video")
    if working:
        files[working["key"]] = working["name"]
    return files
