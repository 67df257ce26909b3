"""Overlay export: highlight regions (moving ellipses) burned into the working video.

Only cheap FFmpeg graphs (DESIGN.md, pitfalls): each region's ellipse is drawn
once into a small PNG (``geq`` on a single frame of the ellipse's size), looped
by reference with the ``loop`` filter, and overlaid at x/y expressions of ``t``
inside ``enable='between(t,start,end)'``.

- ``highlight``: a translucent yellow fill with an anti-aliased edge and no
  outline.
- ``spotlight``: the frame is darkened with ``lutyuv`` (a table lookup) during
  the region; then only the ellipse's bounding box of the original frame is
  cropped, given the ellipse as alpha (``alphamerge`` with a mask the size of
  the box) and put back. No full-frame mask and no ``geq`` per frame.

When the radii change between keyframes, only the small ellipse image is
rescaled per frame (``scale`` with ``eval=frame``); boxes are sized for the
largest radii. Side chains end at the region's end (``trim``/``-t``), so after
it the graph is a plain re-encode; they do run (box-sized, cheap) before the
region starts, because a chain starting late would make the main input buffer
every full frame until then.

No regions: the working video is stream-copied.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import ffmpeg

from exports.renderers.common import (
    AAC,
    X264,
    Plan,
    ProgressSink,
    RenderError,
    RenderOutput,
    fit,
    num,
    output_spec,
    piecewise,
    run_step,
    silence,
)
from videokit.ffmpeg import FFmpegError, run_quiet

HIGHLIGHT_RGB = (255, 235, 59)  # material yellow 500
HIGHLIGHT_ALPHA = 0.45
SPOTLIGHT_DIM = 0.4  # brightness kept outside the ellipse


@dataclass(frozen=True)
class Region:
    index: int
    start: float
    end: float
    effect: str
    keys: list[tuple[float, float, float, float, float]]  # absolute t, x, y, rx, ry

    def track(self, n: int) -> list[tuple[float, float]]:
        return [(k[0], k[n]) for k in self.keys]

    def expr(self, n: int) -> str:
        return piecewise(self.track(n))

    @property
    def max_rx(self) -> float:
        return max(k[3] for k in self.keys)

    @property
    def max_ry(self) -> float:
        return max(k[4] for k in self.keys)

    @property
    def fixed_size(self) -> bool:
        return len({(k[3], k[4]) for k in self.keys}) == 1

    @property
    def enable(self) -> str:
        return f"between(t,{num(self.start)},{num(self.end)})"


def parse_regions(snapshot: dict, duration: float) -> list[Region]:
    regions = []
    for n, item in enumerate(snapshot.get("regions") or [], start=1):
        start = max(float(item["start"]), 0.0)
        end = min(float(item["end"]), duration)
        keys = [
            (
                start + float(k["t"]),
                float(k["x"]),
                float(k["y"]),
                max(float(k["rx"]), 1.0),
                max(float(k["ry"]), 1.0),
            )
            for k in item.get("keyframes") or []
        ]
        effect = item.get("effect")
        if end - start <= 0 or not keys or effect not in ("spotlight", "highlight"):
            continue
        regions.append(Region(n, start, end, effect, sorted(keys)))
    return regions


def draw_ellipse(
    path: Path, width: int, height: int, rgb: tuple[int, int, int], alpha: float
) -> Path:
    """An RGBA PNG: the ellipse inscribed in width x height, 1 px anti-aliased edge, no outline."""
    coverage = "clip((1-hypot((X+0.5-W/2)/(W/2),(Y+0.5-H/2)/(H/2)))*min(W,H)/2+0.5,0,1)"
    r, g, b = rgb
    graph = f"format=rgba,geq=r={r}:g={g}:b={b}:a='{round(255 * alpha)}*{coverage}'"
    try:
        run_quiet(
            [
                "-f", "lavfi", "-i", f"color=c=black@0:s={width}x{height}:d=1",
                "-vf", graph, "-frames:v", "1", str(path),
            ]
        )  # fmt: skip
    except FFmpegError as exc:
        raise exc.with_context("drawing a highlight") from exc
    return path


def ellipse_stream(
    region: Region, png: Path, fps: int, frames: int
) -> ffmpeg.nodes.FilterableStream:
    """The PNG repeated (by reference) from t=0 to the region end, rescaled per frame on zoom."""
    stream = (
        ffmpeg.input(str(png), framerate=fps)
        .filter("loop", loop=max(frames - 1, 0), size=1)
        .filter("setpts", "N")
    )
    if not region.fixed_size:
        stream = stream.filter(
            "scale",
            w=f"max(2*({region.expr(3)}),2)",
            h=f"max(2*({region.expr(4)}),2)",
            eval="frame",
        )
    return stream


def highlight(
    video: ffmpeg.nodes.FilterableStream, region: Region, workdir: Path, fps: int
) -> ffmpeg.nodes.FilterableStream:
    png = draw_ellipse(
        workdir / f"region{region.index}.png",
        max(round(2 * region.max_rx), 2),
        max(round(2 * region.max_ry), 2),
        HIGHLIGHT_RGB,
        HIGHLIGHT_ALPHA,
    )
    ellipse = ellipse_stream(region, png, fps, round(region.end * fps) + 1)
    return ffmpeg.overlay(
        video,
        ellipse,
        x=f"({region.expr(1)})-({region.expr(3)})",
        y=f"({region.expr(2)})-({region.expr(4)})",
        enable=region.enable,
        eof_action="pass",
    )


def spotlight(
    video: ffmpeg.nodes.FilterableStream,
    region: Region,
    workdir: Path,
    size: tuple[int, int],
    fps: int,
) -> ffmpeg.nodes.FilterableStream:
    width, height = size
    box_w = min(width, 2 * round(region.max_rx + 2))
    box_h = min(height, 2 * round(region.max_ry + 2))
    # Box origin: centred on the ellipse, kept inside the frame, even (chroma-aligned,
    # so crop and overlay agree to the pixel).
    box_x = f"2*floor(clip(({region.expr(1)})-{box_w / 2},0,{width - box_w})/2)"
    box_y = f"2*floor(clip(({region.expr(2)})-{box_h / 2},0,{height - box_h})/2)"
    frames = round(region.end * fps) + 1
    png = draw_ellipse(
        workdir / f"region{region.index}.png",
        max(round(2 * region.max_rx), 2),
        max(round(2 * region.max_ry), 2),
        (255, 255, 255),
        1.0,
    )
    canvas = ffmpeg.input(
        f"color=c=black:s={box_w}x{box_h}:r={fps}", f="lavfi", t=num(region.end + 1 / fps)
    )
    mask = ffmpeg.overlay(
        canvas,
        ellipse_stream(region, png, fps, frames),
        x=f"({region.expr(1)})-({region.expr(3)})-({box_x})",
        y=f"({region.expr(2)})-({region.expr(4)})-({box_y})",
    ).filter("format", "gray")
    split = video.split()
    dim = SPOTLIGHT_DIM
    dark = split[0].filter(
        "lutyuv",
        y=f"16+(val-16)*{dim}",
        u=f"128+(val-128)*{dim}",
        v=f"128+(val-128)*{dim}",
        enable=region.enable,
    )
    bright = (
        split[1]
        .filter("trim", end=num(region.end + 1 / fps))
        .filter("crop", w=box_w, h=box_h, x=box_x, y=box_y, exact=1)
    )
    lit = ffmpeg.filter([bright, mask], "alphamerge")
    return ffmpeg.overlay(dark, lit, x=box_x, y=box_y, enable=region.enable, eof_action="pass")


def render_overlay(
    snapshot: dict, *, sources: dict[str, Path], workdir: Path, progress: ProgressSink
) -> RenderOutput:
    spec = output_spec(snapshot["project"])
    working = snapshot["working_video"]
    if working["key"] not in sources:
        raise RenderError("The working video is missing; render the framing first.")
    path = Path(sources[working["key"]])
    duration = float(working["duration"])
    has_audio = bool(working.get("has_audio", True))
    regions = parse_regions(snapshot, duration)
    output = workdir / "overlay.mp4"
    frames = spec.frames(duration)
    src = ffmpeg.input(str(path))
    audio = src["a:0"] if has_audio else silence(duration)
    if not regions:
        args = ffmpeg.output(
            src["v:0"],
            audio,
            str(output),
            f="mp4",
            movflags="+faststart",
            **{"c:v": "copy"},
            **({"c:a": "copy"} if has_audio else AAC),
        ).get_args()
        message = "Copying the working video"
    else:
        video = src["v:0"]
        if (int(working["width"]), int(working["height"])) != (spec.width, spec.height):
            video = fit(video, spec.width, spec.height)
        for region in regions:
            if region.effect == "highlight":
                video = highlight(video, region, workdir, spec.fps)
            else:
                video = spotlight(video, region, workdir, (spec.width, spec.height), spec.fps)
        video = video.filter("format", "yuv420p")
        args = ffmpeg.output(
            video,
            audio,
            str(output),
            f="mp4",
            movflags="+faststart",
            r=spec.fps,
            **X264,
            **({"c:a": "copy"} if has_audio else AAC),
        ).get_args()
        message = f"Rendering {len(regions)} highlight{'s' if len(regions) != 1 else ''}"
    run_step(
        progress,
        args,
        stage="rendering",
        message=message,
        span=Plan().take(1.0),
        expected_frames=frames,
        doing="rendering the highlights",
    )
    return RenderOutput(path=output, expected_duration=duration, clip_count=1, extras=[])
