"""Annotate export: every clip with its rating border and caption, joined; plus plain clip files.

Clip text never goes into the filter graph: it is written to a file that
``drawtext`` reads with ``textfile=`` and ``expansion=none``, so names such as
``'; rm -rf / ;'`` or ``\\:%{pts}`` render literally.
"""

from __future__ import annotations

import re
import textwrap
from pathlib import Path

import av
import ffmpeg

from exports.renderers.common import (
    FONT_PATH,
    OutputSpec,
    Piece,
    Plan,
    ProgressSink,
    RenderError,
    RenderOutput,
    clip_label,
    concat_copy_args,
    exact_length,
    final_args,
    intermediate_args,
    joined,
    output_spec,
    parse_sources,
    piece_streams,
    pieces_for,
    run_step,
    shares,
)

RATING_COLOURS = {1: "0xe53935", 2: "0xffb300", 3: "0x1e88e5", 4: "0x43a047", 5: "0x9ccc65"}
NOTATION = {5: "!!", 4: "!", 3: "!?", 2: "?", 1: "??"}
NOTES_MAX = 100
# Share of the renderer's span: clips are rendered, joined (a copy), then extracted.
RENDER_SHARE, JOIN_SHARE, EXTRACT_SHARE = 0.70, 0.08, 0.22
COPY_WEIGHT = 0.05  # a stream copy costs a small fraction of a re-encode


def border_width(spec: OutputSpec) -> int:
    """8 px at 320 wide, scaled with the output width."""
    return max(2, round(spec.width * 8 / 320))


def caption(clip: dict) -> tuple[str, str]:
    rating = int(clip.get("rating") or 3)
    name = " ".join(str(clip.get("name") or "").split())
    notes = " ".join(str(clip.get("notes") or "").split())
    notes = clipped(notes, NOTES_MAX)
    return f"{NOTATION.get(rating, '!?')}  {name}".rstrip(), notes


def clipped(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _text_file(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def decorate(
    video: ffmpeg.nodes.FilterableStream, clip: dict, spec: OutputSpec, textdir: Path, index: int
) -> ffmpeg.nodes.FilterableStream:
    """Rating border, white caption box, ``<notation>  <name>`` and the notes (wrapped)."""
    rating = int(clip.get("rating") or 3)
    border = border_width(spec)
    margin = border
    title_size = max(9, round(spec.height / 18))
    notes_size = max(7, round(spec.height / 26))
    box_x = border + margin
    box_w = spec.width - 2 * box_x
    pad = max(3, title_size // 3)
    title, notes = caption(clip)
    title = clipped(title, max(int(box_w / (title_size * 0.62)), 8))
    notes_lines = textwrap.wrap(notes, width=max(int(box_w / (notes_size * 0.62)), 10))[:2]
    line_h = round(notes_size * 1.3)
    box_h = 2 * pad + round(title_size * 1.2) + line_h * len(notes_lines)
    box_y = spec.height - border - margin - box_h
    video = video.filter(
        "drawbox", x=0, y=0, w="iw", h="ih", t=border, color=RATING_COLOURS.get(rating, "0x1e88e5")
    ).filter("drawbox", x=box_x, y=box_y, w=box_w, h=box_h, t="fill", color="white@0.88")
    lines = [(title, title_size, box_y + pad)]
    if notes_lines:
        notes_y = box_y + pad + round(title_size * 1.2)
        lines.append(("\n".join(notes_lines), notes_size, notes_y))
    for n, (text, size, y) in enumerate(lines):
        if not text.strip():
            continue
        video = video.filter(
            "drawtext",
            fontfile=str(FONT_PATH),
            textfile=str(_text_file(textdir / f"clip{index}-{n}.txt", text)),
            expansion="none",
            fontsize=size,
            fontcolor="black",
            line_spacing=round(size * 0.3),
            x=box_x + pad,
            y=y,
        )
    return video


def clip_frames(pieces: list[Piece], spec: OutputSpec) -> int:
    return spec.frames(sum(p.duration for p in pieces))


def clip_graph(
    pieces: list[Piece], spec: OutputSpec, frames: int
) -> tuple[ffmpeg.nodes.FilterableStream, ffmpeg.nodes.FilterableStream]:
    parts = [piece_streams(p, spec.width, spec.height, fps=spec.fps) for p in pieces]
    video, audio = joined(parts)
    return exact_length(video, audio, spec, frames)


# ---------------------------------------------------------------- plain clip extraction


def keyframe_at(path: Path, seconds: float) -> bool:
    """True when the video has a keyframe at ``seconds`` (within half a frame)."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        rate = float(stream.average_rate or 30)
        tb = stream.time_base
        container.seek(int(seconds / tb), stream=stream, backward=True, any_frame=False)
        for packet in container.demux(stream):
            if packet.pts is None:
                continue
            return packet.is_keyframe and abs(float(packet.pts * tb) - seconds) < 0.5 / rate
    return False


def copy_is_exact(pieces: list[Piece]) -> bool:
    """Stream copy is frame-exact only from a keyframe to a keyframe (or the file end).

    Anywhere else the copy starts at the previous keyframe and hides the extra
    frames behind an MP4 edit list (DESIGN.md, pitfalls), so we re-encode.
    """
    if len(pieces) != 1:
        return False
    piece = pieces[0]
    try:
        with av.open(str(piece.source.path)) as container:
            video = container.streams.video[0].codec_context.name
            audio = container.streams.audio
            if video != "h264" or not audio or audio[0].codec_context.name != "aac":
                return False
        end = piece.start + piece.duration
        at_end = abs(end - piece.source.duration) < 0.5 / piece.source.fps
        return keyframe_at(piece.source.path, piece.start) and (
            at_end or keyframe_at(piece.source.path, end)
        )
    except (av.error.FFmpegError, OSError, IndexError):
        return False


def extract_args(pieces: list[Piece], out: Path, spec: OutputSpec, *, copy: bool) -> list[str]:
    if copy:
        # A copy from a keyframe to a keyframe still carries the end keyframe (and any
        # packet decoded before it): FFmpeg's -t cuts copies on dts. Drop packets whose
        # pts is at or past the end, so the file shows exactly the clip, no edit list.
        piece = pieces[0]
        src = ffmpeg.input(
            str(piece.source.path), ss=f"{piece.start:.6f}", t=f"{piece.duration:.6f}"
        )
        video_end = piece.duration - 0.5 / piece.source.fps
        audio_end = piece.duration - 0.001
        return ffmpeg.output(
            src["v:0"],
            src["a:0"],
            str(out),
            c="copy",
            f="mp4",
            movflags="+faststart",
            **{
                "bsf:v": f"noise=drop=gte(pts*tb\\,{video_end:.6f})",
                "bsf:a": f"noise=drop=gte(pts*tb\\,{audio_end:.6f})",
            },
        ).get_args()
    video, audio = clip_graph(pieces, spec, clip_frames(pieces, spec))
    return final_args(video, audio, out, spec)


def safe_file_name(index: int, name: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower()[:60] or "clip"
    return f"{index:02d}-{slug}.mp4"


# ---------------------------------------------------------------- entry point


def render_annotate(
    snapshot: dict, *, sources: dict[str, Path], workdir: Path, progress: ProgressSink
) -> RenderOutput:
    spec = output_spec(snapshot["output"])
    files = parse_sources(snapshot, sources)
    clips = snapshot["clips"]
    if not clips:
        raise RenderError("There are no clips to export.")
    textdir = workdir / "text"
    textdir.mkdir(parents=True, exist_ok=True)
    pieces = [
        pieces_for(files, float(c["start"]), float(c["end"]), label=clip_label(c, i))
        for i, c in enumerate(clips, 1)
    ]
    frames = [clip_frames(p, spec) for p in pieces]
    total_frames = sum(frames)
    count = len(clips)
    plan = Plan()

    parts: list[Path] = []
    for i, (clip, clip_pieces, n) in enumerate(zip(clips, pieces, frames, strict=True), start=1):
        video, audio = clip_graph(clip_pieces, spec, n)
        video = decorate(video, clip, spec, textdir, i)
        part = workdir / f"part{i:03d}.mov"
        run_step(
            progress,
            intermediate_args(video, audio, part, spec),
            stage="rendering",
            message=f"Rendering clip {i} of {count}",
            span=plan.take(RENDER_SHARE * n / total_frames),
            expected_frames=n,
            doing=f"rendering clip {i} of {count}",
            item=i,
            items=count,
        )
        parts.append(part)

    output = workdir / "annotated.mp4"
    run_step(
        progress,
        concat_copy_args(parts, output, workdir, spec),
        stage="joining",
        message=f"Joining {count} clips",
        span=plan.take(JOIN_SHARE),
        expected_frames=total_frames,
        doing=f"joining {count} clips",
    )
    for part in parts:
        part.unlink(missing_ok=True)

    copies = [copy_is_exact(p) for p in pieces]
    weights = [n * (COPY_WEIGHT if c else 1.0) for n, c in zip(frames, copies, strict=True)]
    extras: list[tuple[str, Path]] = []
    for i, (clip, clip_pieces, n, copy, share) in enumerate(
        zip(clips, pieces, frames, copies, shares(weights, EXTRACT_SHARE), strict=True), start=1
    ):
        name = safe_file_name(i, str(clip.get("name") or ""))
        out = workdir / "clips" / name
        out.parent.mkdir(exist_ok=True)
        run_step(
            progress,
            extract_args(clip_pieces, out, spec, copy=copy),
            stage="extracting",
            message=f"Extracting clip {i} of {count}",
            span=plan.take(share),
            expected_frames=round(clip_pieces[0].duration * clip_pieces[0].source.fps)
            if copy
            else n,
            doing=f"extracting clip {i} of {count}",
            item=i,
            items=count,
        )
        extras.append((name, out))

    return RenderOutput(
        path=output,
        expected_duration=spec.seconds(total_frames),
        clip_count=count,
        extras=extras,
    )
