"""Overlay export: highlight regions (moving ellipses) burned into the working video.

Every effect is a few ``overlay`` filters of small pictures drawn once, never a
per-pixel operation on the decoded frames and never a ``split`` of them:

- ``highlight``: the ellipse is drawn once into a small PNG (translucent yellow,
  anti-aliased edge, no outline), converted to yuva420p once, repeated by
  reference with ``loop`` and overlaid at x/y expressions of ``t``.
- ``spotlight``: black shades ``1 - SPOTLIGHT_DIM`` opaque are overlaid around
  the ellipse: a box-sized one with a clear ellipse, and four uniform ones above,
  below, left and right of the box, all moving with the ellipse. Blending with
  black at alpha a is exactly the dimming ``16 + (Y - 16)(1 - a)`` and
  ``128 + (C - 128)(1 - a)``; inside the ellipse alpha is 0, so pixels are
  untouched. On zoom only the small hole picture is rescaled per frame.

Each side chain is an independent source that starts at the region's start
(``setpts``) and ends with it, so before and after a region the graph is a plain
re-encode, and the main video never waits (or buffers) for a side chain.
Overlay positions are even (overlay rounds yuv420p positions down to even).

Measured (bench/renders.py; 60 s 1080p30, one region of 20 s with a moving,
resizing ellipse; FFmpeg's own CPU time of decode + filters over one second,
counted in instructions with cachegrind, as a multiple of decoding alone):

| graph                                              | in region | before it |
| -------------------------------------------------- | --------- | --------- |
| spotlight, lutyuv + split + box crop + alphamerge  | 2.42x     | 1.50x     |
| spotlight, shades (this module)                    | 1.28x     | 1.05x     |
| highlight, RGBA PNG scaled and converted per frame | 1.25x     | 1.19x     |
| highlight, yuva420p once, from the region start    | 1.15x     | 1.05x     |

``lutyuv`` alone on the full frame costs 0.55x of decoding (plain C, a table
lookup per byte): more than all of this module's overlays together, whose
blends are SIMD. "before it" is mostly the one-off setup in a one-second
sample. Against a whole plain re-encode (x264 veryfast), the same region adds
about 2 % (spotlight) and 1 % (highlight) of instructions. bench/renders.py, three
interleaved rounds on the shared 2-core machine (load average 5–8, so wall times
are noisy; medians): spotlight 0.97x wall / 1.07x CPU, highlight 0.92x / 1.03x, peak
366 and 357 MB against 336 MB for the plain re-encode. Before this module: a
single round gave 1.09x / 1.11x CPU and the spotlight was 375 MB.

No regions: the working video is stream-copied.
"""

from __future__ import annotations

import math
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


def draw_png(path: Path, width: int, height: int, graph: str) -> Path:
    """One still image drawn by ``graph`` on a ``width`` x ``height`` canvas (once per region)."""
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


def coverage() -> str:
    """How much of pixel (X, Y) the ellipse inscribed in W x H covers: 0..1, a 1 px soft edge."""
    return "clip((1-hypot((X+0.5-W/2)/(W/2),(Y+0.5-H/2)/(H/2)))*min(W,H)/2+0.5,0,1)"


def region_frames(region: Region, fps: int) -> int:
    return round((region.end - region.start) * fps) + 1


def during_region(
    stream: ffmpeg.nodes.FilterableStream, region: Region, fps: int
) -> ffmpeg.nodes.FilterableStream:
    """A still repeated (by reference) once per frame of the region, timed from its start.

    The stream does not exist before the region, so nothing is computed for it
    then; it is an independent source, so the main video never waits for it.
    """
    return stream.filter("loop", loop=region_frames(region, fps) - 1, size=1).filter(
        "setpts", f"N/({fps}*TB)+{num(region.start)}/TB"
    )


def centre(region: Region, n: int, lo: float, hi: float) -> str:
    """The ellipse centre on axis ``n`` (1 = x, 2 = y), clamped to [lo, hi], rounded down to even.

    Even, because overlay places yuv420p pictures at even coordinates only.
    """
    return f"2*floor(clip({region.expr(n)},{num(lo)},{num(hi)})/2)"


def highlight(
    video: ffmpeg.nodes.FilterableStream, region: Region, workdir: Path, fps: int
) -> ffmpeg.nodes.FilterableStream:
    """A translucent yellow ellipse: one small yuva420p picture overlaid during the region."""
    width, height = even_size(region.max_rx), even_size(region.max_ry)
    r, g, b = HIGHLIGHT_RGB
    png = draw_png(
        workdir / f"region{region.index}.png",
        width,
        height,
        f"format=rgba,geq=r={r}:g={g}:b={b}:a='{round(255 * HIGHLIGHT_ALPHA)}*{coverage()}'",
    )
    # Converted to yuva420p once, before the loop: the blend then needs no per-frame conversion.
    ellipse = during_region(
        ffmpeg.input(str(png), framerate=fps).filter("format", "yuva420p"), region, fps
    )
    half_w, half_h = f"{width // 2}", f"{height // 2}"
    if not region.fixed_size:
        w, h = f"2*round({region.expr(3)})", f"2*round({region.expr(4)})"
        ellipse = ellipse.filter("scale", w=f"max({w},2)", h=f"max({h},2)", eval="frame")
        half_w, half_h = f"round({region.expr(3)})", f"round({region.expr(4)})"
    return ffmpeg.overlay(
        video,
        ellipse,
        x=f"{centre(region, 1, -1e5, 1e5)}-{half_w}",
        y=f"{centre(region, 2, -1e5, 1e5)}-{half_h}",
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
    """Dim everything outside the ellipse by overlaying black shades; no full-frame split.

    ``box``: a small shade (the ellipse's bounding box at its largest, plus a
    margin) that is clear inside the ellipse. Four uniform shades (two the size
    of the frame, two a band of the box's height) cover what is above, below, left
    and right of the box. All move with the ellipse's centre, so every pixel is
    dimmed exactly once; only the box changes on zoom.
    """
    width, height = size
    ew, eh = even_size(region.max_rx), even_size(region.max_ry)
    bw, bh = 4 * math.ceil((ew + 4) / 4), 4 * math.ceil((eh + 4) / 4)
    shade = round(255 * (1 - SPOTLIGHT_DIM))
    grey = f"0x{shade:02x}{shade:02x}{shade:02x}"  # gray8 is full range: this is `shade`
    hole_png = draw_png(
        workdir / f"region{region.index}.png",
        ew,
        eh,
        f"format=gray,geq=lum='{shade}*(1-{coverage()})'",
    )
    hole = ffmpeg.input(str(hole_png), framerate=fps)
    if region.fixed_size:
        hole = hole.filter("pad", bw, bh, (bw - ew) // 2, (bh - eh) // 2, color=grey)
        box = during_region(shade_frame(hole, bw, bh, fps), region, fps)
    else:
        # Zoom: the hole is rescaled per frame; still only box-sized work.
        hole = during_region(hole, region, fps).filter(
            "scale",
            w=f"max(2*round({region.expr(3)}),2)",
            h=f"max(2*round({region.expr(4)}),2)",
            eval="frame",
        )
        hole = hole.filter(
            "pad", bw, bh, "trunc((ow-iw)/2)", "trunc((oh-ih)/2)", color=grey, eval="frame"
        )
        box = ffmpeg.filter(
            [during_region(black_frame(bw, bh, fps), region, fps), hole], "alphamerge"
        )
    left = f"{centre(region, 1, -bw / 2, width + bw / 2)}-{bw // 2}"
    top = f"{centre(region, 2, -bh / 2, height + bh / 2)}-{bh // 2}"
    full = during_region(uniform_shade(width, height, fps), region, fps).split()
    band = during_region(uniform_shade(width, bh, fps), region, fps).split()
    for shade_part, x, y in (
        (full[0], "0", f"{top}-{height}"),  # above the box
        (full[1], "0", f"{top}+{bh}"),  # below it
        (band[0], f"{left}-{width}", top),  # left of it
        (band[1], f"{left}+{bw}", top),  # right of it
        (box, left, top),
    ):
        video = ffmpeg.overlay(video, shade_part, x=x, y=y, enable=region.enable, eof_action="pass")
    return video


def uniform_shade(width: int, height: int, fps: int) -> ffmpeg.nodes.FilterableStream:
    """One black yuva420p frame, ``1 - SPOTLIGHT_DIM`` opaque."""
    # The format must be chosen inside the lavfi input: across the device, alpha is lost.
    opacity = num(1 - SPOTLIGHT_DIM)
    return ffmpeg.input(
        f"color=c=black@{opacity}:s={width}x{height}:r={fps},format=yuva420p,trim=end_frame=1",
        f="lavfi",
    )


def black_frame(width: int, height: int, fps: int) -> ffmpeg.nodes.FilterableStream:
    """One opaque-black yuva420p frame (the colour of a shade; alphamerge sets its alpha)."""
    return (
        ffmpeg.input(f"color=c=black:s={width}x{height}:r={fps}", f="lavfi")
        .filter("trim", end_frame=1)
        .filter("format", "yuva420p")
    )


def shade_frame(
    alpha: ffmpeg.nodes.FilterableStream, width: int, height: int, fps: int
) -> ffmpeg.nodes.FilterableStream:
    """One black yuva420p frame whose alpha is the (gray, one-frame) ``alpha`` stream."""
    return ffmpeg.filter([black_frame(width, height, fps), alpha], "alphamerge")


def even_size(radius: float) -> int:
    return max(2 * round(radius), 2)


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
