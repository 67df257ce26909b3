"""The body of the Modal render function, as a plain Python function (Django-free).

``run_render_job`` is what ``exports.modal_app.render_remote`` runs in the GPU
container, and what the tests run locally without a Modal account:

1. fetch every source through its presigned GET URL, streamed to the container's
   disk ("fetching", 0–5 %);
2. render with ``exports.renderers.render`` (the very graph-building code the local
   backend runs; 5–95 %);
3. verify the output (codecs, duration; 95–96 %);
4. PUT the output, and each extra file (annotate's per-clip files), through presigned
   PUT URLs, streamed (96–100 %);
5. return a small result dict.

Progress goes into ``progress_store`` (a ``modal.Dict`` in the container, any mutable
mapping in a test) under ``progress_key``; the worker that dispatched the job polls it
and relays it to the hub. Writes are throttled: a Dict write is a network call.

Cancellation is the container being terminated (``FunctionCall.cancel``), so the
progress sink never asks to cancel. Every failure is raised as ``RemoteRenderError``,
whose ``user_message`` / ``detail`` survive pickling back to the worker (an FFmpeg
error's keyword-only stderr tail would not).
"""

from __future__ import annotations

import logging
import tempfile
import time
import traceback
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, MutableMapping, Sequence
from pathlib import Path

from exports.renderers import RenderError, render, verify_output
from exports.renderers.progress import StagedProgress
from videokit.ffmpeg import FFmpegError
from videokit.probe import ProbeError, probe_video

logger = logging.getLogger(__name__)

# The Modal Dict holding the progress of running remote renders (one entry per attempt).
PROGRESS_DICT_NAME = "reelforge-export-progress"
FETCH_SPAN = (0.0, 5.0)
VERIFY_SPAN = (95.0, 96.0)
UPLOAD_SPAN = (96.0, 100.0)
CHUNK = 1024 * 1024
HTTP_TIMEOUT = 60  # seconds without a byte before a transfer is given up
WRITE_EVERY = 0.5  # seconds between progress writes (stage changes are written at once)


class RemoteRenderError(Exception):
    """A remote render failed: ``user_message`` for people, ``detail`` for the admin.

    Both are constructor arguments (kept in ``args``), so the exception pickles back to
    the worker intact through Modal.
    """

    def __init__(self, user_message: str, detail: str = "") -> None:
        super().__init__(user_message, detail)
        self.user_message = user_message
        self.detail = detail

    def __str__(self) -> str:
        return self.user_message


class RemoteProgress(StagedProgress):
    """A ``ProgressSink`` that writes ``{stage, progress, items, message, eta}`` to a mapping.

    Percent is absolute (0–100) and never goes backwards, like the worker's own reporter;
    ``seq`` increases with every write so the relay can tell a new entry from an old one.
    A failed write (Modal briefly unreachable) is logged and never fails the render.
    """

    def __init__(
        self,
        store: MutableMapping,
        key: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        write_every: float = WRITE_EVERY,
    ) -> None:
        super().__init__(stage_name="starting", message="Starting", clock=clock)
        self.store = store
        self.key = key
        self._write_every = write_every
        self.seq = 0
        self._last_write = float("-inf")
        self._dirty = False

    # ------------------------------------------------------------ ProgressSink

    def cancel_requested(self) -> bool:
        return False  # a cancelled remote render is a terminated container

    def on_process(self, pid: int) -> None:
        return None

    # ------------------------------------------------------------ internals

    def changed(self, *, stage_changed: bool, moved: bool) -> None:
        # A Dict write is a network call: stage changes go at once, progress every 0.5 s.
        self._dirty = self._dirty or stage_changed or moved
        if self._dirty and (stage_changed or self._clock() - self._last_write >= self._write_every):
            self.flush()

    def entry(self) -> dict:
        return {
            "stage": self.stage_name,
            "progress": round(self.percent, 2),
            "items": {"done": self.item or 0, "total": self.items or 0},
            "message": self.message,
            "eta": self.eta,
            "seq": self.seq,
            "at": time.time(),
        }

    def flush(self) -> None:
        """Write the current state now (also the last one, whatever the throttle says)."""
        self.seq += 1
        self._last_write = self._clock()
        self._dirty = False
        try:
            self.store[self.key] = self.entry()
        except Exception:  # noqa: BLE001 - progress must never fail a render
            logger.warning("Could not write progress for %s", self.key, exc_info=True)


# ---------------------------------------------------------------- transfers


def _transfer_error(what: str, exc: Exception) -> RemoteRenderError:
    if isinstance(exc, urllib.error.HTTPError):
        reason = f"HTTP {exc.code}"
    else:
        reason = str(getattr(exc, "reason", "") or exc)
    return RemoteRenderError(f"{what} ({reason}).", traceback.format_exc(limit=5))


def fetch(url: str, target: Path, on_fraction: Callable[[float], None]) -> Path:
    """GET ``url`` into ``target`` in chunks, reporting the fraction copied."""
    with (
        urllib.request.urlopen(url, timeout=HTTP_TIMEOUT) as response,
        open(target, "wb") as out,
    ):
        total = int(response.headers.get("Content-Length") or 0)
        copied = 0
        while chunk := response.read(CHUNK):
            out.write(chunk)
            copied += len(chunk)
            if total:
                on_fraction(copied / total)
    return target


def _chunks(path: Path, on_bytes: Callable[[int], None]) -> Iterator[bytes]:
    sent = 0
    with open(path, "rb") as handle:
        while chunk := handle.read(CHUNK):
            sent += len(chunk)
            yield chunk
            on_bytes(sent)


def upload(url: str, path: Path, on_fraction: Callable[[float], None]) -> int:
    """PUT ``path`` to a presigned URL, streamed in chunks; returns the bytes sent."""
    size = path.stat().st_size
    request = urllib.request.Request(
        url,
        data=_chunks(path, lambda sent: on_fraction(sent / max(size, 1))),
        method="PUT",
        # Content-Type is part of the signature (exports.backends.modal.presigned_put).
        headers={"Content-Length": str(size), "Content-Type": "video/mp4"},
    )
    with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT) as response:
        response.read()
    return size


# ---------------------------------------------------------------- the job


def output_fps(snapshot: dict) -> float:
    spec = snapshot.get("output") or snapshot.get("project") or {}
    return float(spec.get("fps") or 30)


def source_suffixes(snapshot: dict) -> dict[str, str]:
    """Key -> file suffix of every file the snapshot reads (the URLs do not carry it)."""
    items = list(snapshot.get("sources") or [])
    if snapshot.get("working_video"):
        items.append(snapshot["working_video"])
    return {item["key"]: Path(str(item.get("name") or "")).suffix or ".mp4" for item in items}


def fetch_sources(
    source_urls: dict[str, str],
    folder: Path,
    progress: RemoteProgress,
    suffixes: dict[str, str] | None = None,
) -> dict[str, Path]:
    """Key -> local path of every source, each probed (a damaged file fails before FFmpeg)."""
    folder.mkdir(parents=True, exist_ok=True)
    count = len(source_urls)
    lo, hi = FETCH_SPAN
    step = (hi - lo) / max(count, 1)
    paths: dict[str, Path] = {}
    for n, (key, url) in enumerate(source_urls.items()):
        progress.stage(
            "fetching",
            message="Fetching the source" if count == 1 else f"Fetching source {n + 1} of {count}",
            start=lo + n * step,
            end=lo + (n + 1) * step,
            item=n + 1 if count > 1 else None,
            items=count if count > 1 else None,
        )
        target = folder / f"{key}{(suffixes or {}).get(key, '.mp4')}"
        try:
            fetch(url, target, progress.fraction)
        except (urllib.error.URLError, OSError) as exc:
            raise _transfer_error(f"The source video {key} could not be downloaded", exc) from None
        try:
            probe_video(target)
        except ProbeError as exc:
            raise RemoteRenderError(f"The source video {key} could not be read: {exc}") from None
        paths[key] = target
    return paths


def upload_outputs(
    output, *, output_put_url: str, extras_put_urls: Sequence[str], progress: RemoteProgress
) -> tuple[int, list[dict]]:
    """PUT the main file and the extras; returns (main size, [{index, name, size}])."""
    if len(output.extras) > len(extras_put_urls):
        raise RemoteRenderError(
            "The render produced more files than it has upload URLs for.",
            f"{len(output.extras)} extras, {len(extras_put_urls)} URLs",
        )
    files = [output.path] + [path for _, path in output.extras]
    total = sum(path.stat().st_size for path in files) or 1
    progress.stage(
        "uploading", message="Uploading the video", start=UPLOAD_SPAN[0], end=UPLOAD_SPAN[1]
    )
    done = 0

    def report(base: int, size: int) -> Callable[[float], None]:
        return lambda f: progress.fraction((base + f * size) / total)

    try:
        size = upload(output_put_url, output.path, report(0, output.path.stat().st_size))
        done += size
        extras = []
        for index, ((name, path), url) in enumerate(
            zip(output.extras, extras_put_urls, strict=False)
        ):
            extra_size = upload(url, path, report(done, path.stat().st_size))
            done += extra_size
            extras.append({"index": index, "name": name, "size": extra_size})
    except (urllib.error.URLError, OSError) as exc:
        raise _transfer_error("The rendered video could not be uploaded", exc) from None
    return size, extras


def run_render_job(
    *,
    job_id: int,
    snapshot: dict,
    source_urls: dict[str, str],
    output_put_url: str,
    extras_put_urls: Sequence[str] = (),
    progress_store: MutableMapping,
    progress_key: str = "",
    workdir: Path | None = None,
) -> dict:
    """Fetch, render, verify and upload one export job; returns the result for the worker.

    The result: ``{"duration", "size", "clip_count", "expected_duration", "extras":
    [{"index", "name", "size"}]}`` (``extras[i]`` went to ``extras_put_urls[index]``).
    """
    progress = RemoteProgress(progress_store, progress_key or f"job-{job_id}")
    progress.stage("fetching", message="Starting", start=0.0, end=0.0)
    with tempfile.TemporaryDirectory(prefix=f"reelforge-job{job_id}-", dir=workdir) as tmp:
        folder = Path(tmp)
        try:
            sources = fetch_sources(
                source_urls, folder / "sources", progress, source_suffixes(snapshot)
            )
            output = render(snapshot, sources=sources, workdir=folder / "render", progress=progress)
            progress.stage(
                "verifying", message="Checking the video", start=VERIFY_SPAN[0], end=VERIFY_SPAN[1]
            )
            info = verify_output(
                output.path,
                expected_duration=output.expected_duration,
                clip_count=output.clip_count,
                fps=output_fps(snapshot),
            )
            size, extras = upload_outputs(
                output,
                output_put_url=output_put_url,
                extras_put_urls=extras_put_urls,
                progress=progress,
            )
        except RemoteRenderError:
            raise
        except FFmpegError as exc:
            raise RemoteRenderError(exc.user_message, exc.stderr_tail) from None
        except RenderError as exc:
            raise RemoteRenderError(exc.user_message, traceback.format_exc(limit=5)) from None
        except ProbeError as exc:
            raise RemoteRenderError(str(exc), traceback.format_exc(limit=5)) from None
        except OSError as exc:
            raise RemoteRenderError(
                f"The export failed: {exc.strerror or exc}.", traceback.format_exc()
            ) from None
        except Exception:
            logger.exception("Remote render of export %s failed", job_id)
            raise RemoteRenderError(
                "The GPU render failed unexpectedly.", traceback.format_exc()
            ) from None
    progress.fraction(1.0)
    progress.flush()
    return {
        "duration": info.duration,
        "size": size,
        "clip_count": output.clip_count,
        "expected_duration": output.expected_duration,
        "extras": extras,
    }
