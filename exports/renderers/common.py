"""Pieces shared by the renderers: snapshot parsing, normalized inputs, exact lengths, join, verify.

Django-free: the same code runs in a worker and in the Modal container.

How a job is rendered: each clip becomes one intermediate file (H.264 + PCM in
MOV, identical encoder settings for every clip), then the intermediates are
joined. PCM keeps every clip's audio exactly as long as its video (AAC would
pad each clip to 1024 samples and drift the joined audio by up to 21 ms per
clip), so a cut join is the concat demuxer copying the video and encoding the
audio to AAC once. Every clip is cut to a whole number of frames and
``frames * 48000 / fps`` audio samples, so the expected duration is exact.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import ffmpeg

from videokit.ffmpeg import FFmpegError, run_ffmpeg
from videokit.probe import ProbeError, VideoInfo, probe_video

AUDIO_RATE = 48000
FONT_PATH = Path(__file__).resolve().parent / "fonts" / "DejaVuSans.ttf"
# The final MP4's duration is the longer stream's; AAC's last frame holds up to
# 1024 samples of padding (21.3 ms at 48 kHz) beyond the video. Two frames' worth
# covers that plus rounding of the container duration to milliseconds.
AAC_EPSILON = 2 * 1024 / AUDIO_RATE

X264 = {"c:v": "libx264", "preset": "veryfast", "pix_fmt": "yuv420p"}
AAC = {"c:a": "aac", "b:a": "160k", "ar": AUDIO_RATE, "ac": 2}
PCM = {"c:a": "pcm_s16le", "ar": AUDIO_RATE, "ac": 2}


class ProgressSink(Protocol):
    def stage(
        self,
        name: str,
        *,
        message: str,
        start: float,
        end: float,
        item: int | None = None,
        items: int | None = None,
    ) -> None: ...

    def fraction(self, f: float) -> None: ...

    def cancel_requested(self) -> bool: ...

    def on_process(self, pid: int) -> None: ...


@dataclass
class RenderOutput:
    path: Path
    expected_duration: float
    clip_count: int
    extras: list[tuple[str, Path]] = field(default_factory=list)


class RenderError(Exception):
    """The job cannot be rendered as asked; ``user_message`` says why."""

    def __init__(self, user_message: str):
        super().__init__(user_message)
        self.user_message = user_message


class OutputInvalid(RenderError):
    """The rendered file failed the final check (codecs, duration)."""


@dataclass(frozen=True)
class OutputSpec:
    width: int
    height: int
    fps: int

    def frames(self, seconds: float) -> int:
        return max(int(round(seconds * self.fps)), 1)

    def seconds(self, frames: int) -> float:
        return frames / self.fps

    def samples(self, frames: int) -> int:
        return int(round(frames * AUDIO_RATE / self.fps))


@dataclass(frozen=True)
class Source:
    key: str
    path: Path
    offset: float
    duration: float
    fps: float
    width: int
    height: int
    has_audio: bool


@dataclass(frozen=True)
class Piece:
    """The part of one source file a clip uses (``start`` in that file's own time)."""

    source: Source
    start: float
    duration: float


def even(value: float) -> int:
    return max(int(round(value / 2.0)) * 2, 2)


def output_spec(data: dict) -> OutputSpec:
    return OutputSpec(even(data["width"]), even(data["height"]), int(round(data["fps"])))


def parse_sources(snapshot: dict, paths: dict[str, Path]) -> list[Source]:
    sources = []
    for item in snapshot["sources"]:
        if item["key"] not in paths:
            raise RenderError(f"The source video {item.get('name') or item['key']} is missing.")
        sources.append(
            Source(
                key=item["key"],
                path=Path(paths[item["key"]]),
                offset=float(item.get("offset", 0.0)),
                duration=float(item["duration"]),
                fps=float(item.get("fps") or 30.0),
                width=int(item["width"]),
                height=int(item["height"]),
                has_audio=bool(item.get("has_audio", True)),
            )
        )
    return sorted(sources, key=lambda s: s.offset)


def pieces_for(sources: Sequence[Source], start: float, end: float, *, label: str) -> list[Piece]:
    """Map ``[start, end)`` on the game timeline to pieces of the source files."""
    pieces = []
    for source in sources:
        lo = max(start, source.offset)
        hi = min(end, source.offset + source.duration)
        if hi - lo > 1e-3:
            pieces.append(Piece(source, lo - source.offset, hi - lo))
    if not pieces:
        raise RenderError(f"The clip {label} is outside the game video.")
    return pieces


def clip_label(clip: dict, index: int) -> str:
    name = str(clip.get("name") or "").strip()
    return f"“{name}”" if name else f"#{index}"


# ---------------------------------------------------------------- graph building


def silence(seconds: float) -> ffmpeg.nodes.FilterableStream:
    return ffmpeg.input(f"anullsrc=r={AUDIO_RATE}:cl=stereo", f="lavfi", t=f"{seconds:.6f}").audio


def normalized_audio(stream: ffmpeg.nodes.FilterableStream) -> ffmpeg.nodes.FilterableStream:
    return stream.filter("aresample", AUDIO_RATE).filter(
        "aformat", sample_fmts="fltp", sample_rates=AUDIO_RATE, channel_layouts="stereo"
    )


def fit(
    stream: ffmpeg.nodes.FilterableStream, width: int, height: int
) -> ffmpeg.nodes.FilterableStream:
    """Scale into ``width`` x ``height`` keeping the aspect, pad the rest black, square pixels."""
    return (
        stream.filter("scale", width, height, force_original_aspect_ratio="decrease")
        .filter("pad", width, height, "(ow-iw)/2", "(oh-ih)/2", color="black")
        .filter("setsar", 1)
    )


def piece_streams(
    piece: Piece, width: int, height: int, *, fps: int | None
) -> tuple[ffmpeg.nodes.FilterableStream, ffmpeg.nodes.FilterableStream]:
    """One seeked input (``-ss`` before ``-i``: fast and frame-accurate), normalized.

    FFmpeg autorotates phone video on decode, so sizes here are display sizes.
    ``fps=None`` keeps the source's frames (framing converts after speed changes).
    """
    src = ffmpeg.input(str(piece.source.path), ss=f"{piece.start:.6f}", t=f"{piece.duration:.6f}")
    video = fit(src.video, width, height)
    if fps:
        video = video.filter("fps", fps)
    audio = normalized_audio(src.audio) if piece.source.has_audio else silence(piece.duration)
    return video, audio


def joined(
    parts: Sequence[tuple[ffmpeg.nodes.FilterableStream, ffmpeg.nodes.FilterableStream]],
) -> tuple[ffmpeg.nodes.FilterableStream, ffmpeg.nodes.FilterableStream]:
    if len(parts) == 1:
        return parts[0]
    flat = [stream for pair in parts for stream in pair]
    node = ffmpeg.concat(*flat, v=1, a=1).node
    return node[0], node[1]


def exact_length(
    video: ffmpeg.nodes.FilterableStream,
    audio: ffmpeg.nodes.FilterableStream,
    spec: OutputSpec,
    frames: int,
) -> tuple[ffmpeg.nodes.FilterableStream, ffmpeg.nodes.FilterableStream]:
    """Exactly ``frames`` CFR frames and the matching audio samples (pad, then cut)."""
    samples = spec.samples(frames)
    video = (
        video.filter("fps", spec.fps)
        .filter("tpad", stop_mode="clone", stop_duration=1)
        .filter("trim", end_frame=frames)
        .filter("setpts", f"N/({spec.fps}*TB)")
        .filter("format", "yuv420p")
    )
    audio = (
        audio.filter("apad", whole_len=samples)
        .filter("atrim", end_sample=samples)
        .filter("asetpts", "N/SR/TB")
    )
    return video, audio


def intermediate_args(
    video: ffmpeg.nodes.FilterableStream,
    audio: ffmpeg.nodes.FilterableStream,
    path: Path,
    spec: OutputSpec,
    *,
    keyframes: Sequence[int] = (),
) -> list[str]:
    """A clip intermediate: H.264 (same settings for every clip, so it stream-joins) + PCM.

    ``keyframes``: frame numbers that must start a closed GOP (an IDR), so the
    file can be cut there by stream copy (the dissolve join does).
    """
    extra = {}
    if keyframes:
        extra = {
            "force_key_frames": "expr:" + "+".join(f"eq(n,{k})" for k in sorted(keyframes)),
            "forced-idr": 1,
        }
    out = ffmpeg.output(video, audio, str(path), f="mov", r=spec.fps, **X264, **PCM, **extra)
    return out.get_args()


def final_args(
    video: ffmpeg.nodes.FilterableStream,
    audio: ffmpeg.nodes.FilterableStream,
    path: Path,
    spec: OutputSpec,
    *,
    video_copy: bool = False,
    audio_copy: bool = False,
) -> list[str]:
    vargs = {"c:v": "copy"} if video_copy else {**X264, "r": spec.fps}
    aargs = {"c:a": "copy"} if audio_copy else AAC
    out = ffmpeg.output(video, audio, str(path), f="mp4", movflags="+faststart", **vargs, **aargs)
    return out.get_args()


def concat_listing(parts: Sequence[Path], workdir: Path) -> Path:
    """A concat demuxer list of ``parts`` (absolute, quoted)."""
    listing = workdir / "join.txt"
    lines = []
    for part in parts:
        quoted = str(Path(part).resolve()).replace("'", "'\\''")
        lines.append(f"file '{quoted}'")
    listing.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return listing


def concat_copy_args(
    parts: Sequence[Path], path: Path, workdir: Path, spec: OutputSpec
) -> list[str]:
    """Join intermediates with the concat demuxer: video copied, PCM audio encoded to AAC once."""
    src = ffmpeg.input(str(concat_listing(parts, workdir)), f="concat", safe=0)
    return final_args(src.video, src.audio, path, spec, video_copy=True)


# ---------------------------------------------------------------- running


@dataclass
class Plan:
    """Splits the renderer's share of the job (5..95 %) into weighted steps."""

    start: float = 5.0
    end: float = 95.0
    _cursor: float = field(default=5.0, init=False)

    def __post_init__(self) -> None:
        self._cursor = self.start

    def take(self, share: float) -> tuple[float, float]:
        """The next ``share`` (0..1 of the whole renderer span) as absolute percents."""
        lo = self._cursor
        hi = min(lo + share * (self.end - self.start), self.end)
        self._cursor = hi
        return round(lo, 3), round(hi, 3)


def run_step(
    progress: ProgressSink,
    args: list[str],
    *,
    stage: str,
    message: str,
    span: tuple[float, float],
    expected_frames: int,
    doing: str,
    item: int | None = None,
    items: int | None = None,
) -> None:
    """Announce a stage, run FFmpeg reporting into it, and name the step in any error."""
    progress.stage(stage, message=message, start=span[0], end=span[1], item=item, items=items)
    try:
        run_ffmpeg(
            args,
            expected_frames=expected_frames,
            on_progress=progress.fraction,
            should_cancel=progress.cancel_requested,
            on_start=progress.on_process,
        )
    except FFmpegError as exc:
        raise exc.with_context(doing) from exc


def shares(weights: Sequence[float], total: float) -> list[float]:
    """Split ``total`` in proportion to ``weights`` (equal split when all are zero)."""
    weight_sum = sum(weights)
    if weight_sum <= 0:
        return [total / max(len(weights), 1)] * len(weights)
    return [total * w / weight_sum for w in weights]


def verify_output(
    path: str | Path, *, expected_duration: float, clip_count: int, fps: float
) -> VideoInfo:
    """Probe the render and check H.264 + AAC and the duration.

    Allowed error: one frame per clip (each clip is cut to whole frames) plus
    ``AAC_EPSILON`` for the AAC padding of the last audio frame.
    """
    try:
        info = probe_video(path)
    except ProbeError as exc:
        raise OutputInvalid(f"The rendered video could not be read: {exc}") from exc
    if info.video_codec != "h264" or info.audio_codec != "aac":
        raise OutputInvalid(
            f"The rendered video has the wrong format ({info.video_codec}/{info.audio_codec})."
        )
    tolerance = max(clip_count, 1) / max(fps, 1.0) + AAC_EPSILON
    if not math.isfinite(info.duration) or abs(info.duration - expected_duration) > tolerance:
        raise OutputInvalid(
            f"The rendered video is {info.duration:.2f} s long instead of "
            f"{expected_duration:.2f} s."
        )
    return info


# ---------------------------------------------------------------- expressions


def num(value: float) -> str:
    """A number for an FFmpeg expression: short, no exponent, no ``-0``."""
    text = f"{value:.4f}".rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def piecewise(points: Sequence[tuple[float, float]], var: str = "t") -> str:
    """A piecewise-linear FFmpeg expression through ``(time, value)`` points, flat outside.

    Built as nested ``if(lt(t,t1), lerp, ...)``; FFmpeg re-evaluates it per frame.
    """
    merged: dict[float, float] = {}
    for t, value in sorted(points, key=lambda p: p[0]):
        merged[round(t, 4)] = value
    pts = sorted(merged.items())
    if not pts:
        raise ValueError("piecewise() needs at least one point")
    expr = num(pts[-1][1])
    for (t0, v0), (t1, v1) in reversed(list(zip(pts, pts[1:], strict=False))):
        if v1 == v0:
            segment = num(v0)
        else:
            segment = f"{num(v0)}+({num(v1 - v0)})*({var}-{num(t0)})/{num(t1 - t0)}"
        expr = f"if(lt({var},{num(t1)}),{segment},{expr})"
    if len(pts) > 1:
        expr = f"if(lt({var},{num(pts[0][0])}),{num(pts[0][1])},{expr})"
    return expr


def interpolate(points: Sequence[tuple[float, float]], t: float) -> float:
    """The value of the same piecewise-linear function at ``t`` (for per-frame command files)."""
    pts = sorted(points, key=lambda p: p[0])
    if t <= pts[0][0]:
        return pts[0][1]
    for (t0, v0), (t1, v1) in zip(pts, pts[1:], strict=False):
        if t < t1:
            return v0 + (v1 - v0) * (t - t0) / (t1 - t0) if t1 > t0 else v1
    return pts[-1][1]
