"""Renderer benchmark: each export kind on a 60 s 1080p 30 fps source vs a plain re-encode.

Run: ``.venv/bin/python bench/renders.py [--repeats 3] [--only plain,spotlight] [--grainy]``.
Django-free. The source (testsrc2 + a sine tone; ``--grainy`` adds temporal noise,
which encodes about 4x slower) is made once and cached under ``var/bench/``.

Every render runs in a fresh Python subprocess, so its FFmpeg children's peak
memory is ``getrusage(RUSAGE_CHILDREN).ru_maxrss`` (renderers run one FFmpeg at
a time, so the largest child is the peak of the process tree) and its CPU time
is the children's user + system time. Runs are interleaved round by round and
each is compared with the plain re-encode of the same round, scaled to the
case's output duration: the machine is shared, so absolute seconds mean little
and the median ratio is what the targets are checked on. The CPU ratio is shown
too: it moves less with other people's load.

Targets: each overlay effect at most 1.10x a plain re-encode; every render under
450 MB peak memory.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# The repo root first: bench/exports.py must not shadow the exports package.
sys.path.insert(0, str(ROOT))

CACHE = ROOT / "var" / "bench" / "renders"
SECONDS, WIDTH, HEIGHT, FPS = 60, 1920, 1080, 30
OVERLAY_TARGET = 1.10
MEMORY_TARGET_MB = 450
CASES = (
    "plain",
    "highlight",
    "spotlight",
    "framing",
    "framing-dissolve",
    "annotate",
)


# ---------------------------------------------------------------- source


def source_path(grainy: bool) -> Path:
    return CACHE / f"source-{SECONDS}s-{HEIGHT}p{'-grainy' if grainy else ''}.mp4"


def ensure_source(grainy: bool) -> Path:
    from videokit.ffmpeg import run_quiet

    path = source_path(grainy)
    if path.exists():
        return path
    CACHE.mkdir(parents=True, exist_ok=True)
    video = f"testsrc2=s={WIDTH}x{HEIGHT}:r={FPS}:d={SECONDS}"
    if grainy:
        video += ",noise=alls=24:allf=t+u"
    partial = path.with_suffix(".partial.mp4")
    print(f"making {path.relative_to(ROOT)} (once)...", flush=True)
    run_quiet(
        [
            "-f", "lavfi", "-i", video,
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={SECONDS}",
            "-map", "0:v", "-map", "1:a", "-t", str(SECONDS),
            "-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", "160k", "-ac", "2",
            "-movflags", "+faststart", "-f", "mp4", str(partial),
        ],
        timeout=1800,
    )  # fmt: skip
    partial.rename(path)
    return path


def source_entry(path: Path) -> dict:
    return {
        "key": "game",
        "name": path.name,
        "offset": 0.0,
        "duration": float(SECONDS),
        "fps": float(FPS),
        "width": WIDTH,
        "height": HEIGHT,
        "has_audio": True,
        "rotation": 0,
    }


# ---------------------------------------------------------------- snapshots


def overlay_snapshot(effect: str) -> dict:
    """One region of 20 s (20–40 s): an ellipse crossing the frame, growing a little."""
    keys = [
        {"t": 0.0, "x": 400, "y": 500, "rx": 180, "ry": 140},
        {"t": 10.0, "x": 1000, "y": 600, "rx": 220, "ry": 170},
        {"t": 20.0, "x": 1500, "y": 450, "rx": 200, "ry": 150},
    ]
    return {
        "kind": "overlay",
        "project": {"id": 1, "name": "bench", "aspect": "16:9", "width": WIDTH,
                    "height": HEIGHT, "fps": FPS},
        "working_video": {"key": "working", "duration": float(SECONDS), "width": WIDTH,
                          "height": HEIGHT, "fps": FPS, "has_audio": True},
        "regions": [{"start": 20.0, "end": 40.0, "effect": effect, "keyframes": keys}],
    }  # fmt: skip


def framing_snapshot(path: Path, transition: str) -> dict:
    """Three 20 s clips to 9:16 1080x1920: a moving crop, a zoom, a clip with 5 s at half speed."""
    w, h = 608, 1080

    def clip(n: int, start: float, **extra: object) -> dict:
        return {
            "id": n,
            "name": f"clip {n}",
            "start": start,
            "end": start + 20.0,
            "crop_keyframes": [],
            "speed_segments": [],
            "transition": {"type": transition, "duration": 0.5},
            **extra,
        }

    moving = [{"t": 0.0, "x": 0, "y": 0, "w": w, "h": h},
              {"t": 10.0, "x": 1300, "y": 0, "w": w, "h": h},
              {"t": 20.0, "x": 600, "y": 0, "w": w, "h": h}]  # fmt: skip
    zoom = [{"t": 0.0, "x": 600, "y": 0, "w": w, "h": h},
            {"t": 10.0, "x": 800, "y": 300, "w": 304, "h": 540},
            {"t": 20.0, "x": 700, "y": 100, "w": 456, "h": 810}]  # fmt: skip
    return {
        "kind": "framing",
        "project": {"id": 1, "name": "bench", "aspect": "9:16", "width": 1080, "height": 1920,
                    "fps": FPS},
        "sources": [source_entry(path)],
        "clips": [
            clip(1, 0.0, crop_keyframes=moving),
            clip(2, 20.0, crop_keyframes=zoom),
            clip(3, 40.0, speed_segments=[{"start": 5.0, "end": 10.0, "speed": 0.5}]),
        ],
    }  # fmt: skip


def annotate_snapshot(path: Path) -> dict:
    """Four clips of 15 s covering the minute (starts between keyframes: extraction re-encodes)."""
    clips = [
        {"id": n, "name": f"Moment {n}", "rating": 1 + n % 5, "notes": "Press, win the ball, "
         "switch play to the far side and finish first time.", "tags": [],
         "start": 15.0 * (n - 1), "end": 15.0 * n}
        for n in range(1, 5)
    ]  # fmt: skip
    return {
        "kind": "annotate",
        "game": {"id": 1, "title": "bench"},
        "sources": [source_entry(path)],
        "clips": clips,
        "output": {"width": WIDTH, "height": HEIGHT, "fps": FPS},
    }


# ---------------------------------------------------------------- one run (in a child process)


class NullProgress:
    def stage(self, name: str, **kw: object) -> None:
        pass

    def fraction(self, f: float) -> None:
        pass

    def cancel_requested(self) -> bool:
        return False

    def on_process(self, pid: int) -> None:
        pass


def plain_args(path: Path, out: Path) -> list[str]:
    """What the overlay renderer's output is, without the effect: the same encoder settings."""
    import ffmpeg

    from exports.renderers.common import X264

    src = ffmpeg.input(str(path))
    return ffmpeg.output(
        src["v:0"].filter("format", "yuv420p"),
        src["a:0"],
        str(out),
        f="mp4",
        movflags="+faststart",
        r=FPS,
        **X264,
        **{"c:a": "copy"},
    ).get_args()


def run_case(case: str, path: Path) -> tuple[float, float]:
    """Render ``case``; returns (wall seconds, output seconds)."""
    from exports.renderers import render
    from videokit.ffmpeg import run_ffmpeg
    from videokit.probe import probe_video

    with tempfile.TemporaryDirectory(prefix=f"bench-{case}-", dir=CACHE) as tmp:
        workdir = Path(tmp)
        started = time.monotonic()
        if case == "plain":
            out = workdir / "plain.mp4"
            run_ffmpeg(
                plain_args(path, out),
                expected_frames=SECONDS * FPS,
                on_progress=lambda f: None,
                should_cancel=lambda: False,
            )
        else:
            if case in ("highlight", "spotlight"):
                snapshot, sources = overlay_snapshot(case), {"working": path}
            elif case == "framing":
                snapshot, sources = framing_snapshot(path, "cut"), {"game": path}
            elif case == "framing-dissolve":
                snapshot, sources = framing_snapshot(path, "dissolve"), {"game": path}
            elif case == "annotate":
                snapshot, sources = annotate_snapshot(path), {"game": path}
            else:
                raise SystemExit(f"unknown case {case!r}")
            out = render(snapshot, sources=sources, workdir=workdir, progress=NullProgress()).path
        wall = time.monotonic() - started
        return wall, probe_video(out).duration


def child_main(case: str, grainy: bool) -> None:
    wall, seconds = run_case(case, source_path(grainy))
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    print(
        json.dumps(
            {
                "wall": wall,
                "cpu": usage.ru_utime + usage.ru_stime,
                "peak_mb": usage.ru_maxrss / 1024,
                "seconds": seconds,
            }
        )
    )


# ---------------------------------------------------------------- driver


def run_child(case: str, grainy: bool) -> dict:
    cmd = [sys.executable, __file__, "--child", case] + (["--grainy"] if grainy else [])
    done = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{case} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def table(results: dict[str, list[dict]]) -> tuple[str, int]:
    plain = results["plain"]
    rows = [
        f"{'case':<17} {'out s':>6} {'wall s':>7} {'ratio':>6} {'cpu ratio':>9} "
        f"{'peak MB':>8}  {'target':<22} {'pass':<4}",
        "-" * 88,
    ]
    failures = 0
    for case, runs in results.items():
        seconds = runs[0]["seconds"]
        wall = statistics.median(r["wall"] for r in runs)
        ratios = [
            r["wall"] / (p["wall"] * r["seconds"] / p["seconds"])
            for r, p in zip(runs, plain, strict=False)
        ]
        cpu_ratios = [
            r["cpu"] / (p["cpu"] * r["seconds"] / p["seconds"])
            for r, p in zip(runs, plain, strict=False)
        ]
        ratio, cpu_ratio = statistics.median(ratios), statistics.median(cpu_ratios)
        peak = max(r["peak_mb"] for r in runs)
        ok = peak < MEMORY_TARGET_MB
        target = f"< {MEMORY_TARGET_MB} MB"
        if case in ("highlight", "spotlight"):
            target = f"<= {OVERLAY_TARGET:.2f}x, {target}"
            ok = ok and ratio <= OVERLAY_TARGET
        failures += not ok
        rows.append(
            f"{case:<17} {seconds:>6.1f} {wall:>7.1f} {ratio:>5.2f}x {cpu_ratio:>8.2f}x "
            f"{peak:>8.0f}  {target:<22} {'ok' if ok else 'FAIL':<4}"
        )
    rows.append("")
    rows.append(
        f"{len(plain)} interleaved round(s); ratio = median over rounds of wall / (plain wall "
        "of the round x out s / 60); annotate also writes the four clips again (2x the video)."
    )
    return "\n".join(rows), failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated cases (plain always runs)")
    parser.add_argument("--grainy", action="store_true")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child_main(args.child, args.grainy)
        return 0
    cases = [c for c in CASES if not args.only or c == "plain" or c in args.only.split(",")]
    ensure_source(args.grainy)
    results: dict[str, list[dict]] = {case: [] for case in cases}
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    for n in range(args.repeats):
        for case in cases:
            result = run_child(case, args.grainy)
            results[case].append(result)
            print(
                f"round {n + 1}/{args.repeats} {case:<17} {result['wall']:6.1f} s "
                f"cpu {result['cpu']:6.1f} s  peak {result['peak_mb']:4.0f} MB",
                flush=True,
            )
    text, failures = table(results)
    print(
        f"\n{text}\n(total {time.monotonic() - started:.0f} s; load average "
        f"{load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end on "
        f"{os.cpu_count()} CPUs: above the CPU count, trust the CPU ratio more than the wall one)"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
