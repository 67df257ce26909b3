"""Moving a verified render into storage so that a partial file is never visible.

FileSystemStorage: copy to a hidden temporary name in the final folder (same
filesystem), flush it to disk, then ``os.replace`` it over the final name, which
is atomic. Other storages (S3, R2): ``storage.save``; an object appears only once
its upload completed. Names are fixed per job (``u<owner>/exports/<job>/...``),
so storing again (a finalize retried) overwrites instead of piling up copies.
"""

from __future__ import annotations

import errno
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path

from django.core.files import File
from django.core.files.storage import default_storage

CHUNK = 1024 * 1024


class StorageFull(Exception):
    """No space left while saving the output."""


def output_name(owner_id: int, job_id: int, filename: str) -> str:
    return f"u{owner_id}/exports/{job_id}/{filename}"


class _CountingReader:
    """A file wrapper that reports how many bytes were read (upload progress)."""

    def __init__(self, handle, on_bytes: Callable[[int], None]) -> None:
        self._handle = handle
        self._on_bytes = on_bytes
        self.read_bytes = 0

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self.read_bytes += len(data)
        self._on_bytes(self.read_bytes)
        return data

    def __getattr__(self, name: str):
        return getattr(self._handle, name)


def local_target(name: str) -> Path | None:
    """The file path of ``name`` when the storage has local paths, else None (S3, R2)."""
    try:
        return Path(default_storage.path(name))
    except NotImplementedError:
        return None


def _copy_local(source: Path, target: Path, on_bytes: Callable[[int], None]) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f".{target.name}.{uuid.uuid4().hex[:8]}.partial")
    try:
        copied = 0
        with open(source, "rb") as src, open(partial, "wb") as dst:
            while chunk := src.read(CHUNK):
                dst.write(chunk)
                copied += len(chunk)
                on_bytes(copied)
            dst.flush()
            os.fsync(dst.fileno())
        os.replace(partial, target)
    except BaseException:
        partial.unlink(missing_ok=True)
        raise


def _upload(source: Path, name: str, on_bytes, tick: Callable[[], object]) -> str:
    """``storage.save`` in a helper thread while this thread keeps ticking (heartbeat)."""
    result: dict = {}

    def upload() -> None:
        try:
            with open(source, "rb") as handle:
                reader = _CountingReader(handle, on_bytes)
                result["name"] = default_storage.save(name, File(reader, name=name))
        except BaseException as exc:  # re-raised in the caller's thread
            result["error"] = exc

    worker = threading.Thread(target=upload, name="export-upload", daemon=True)
    worker.start()
    while worker.is_alive():
        worker.join(0.1)
        tick()
    if "error" in result:
        raise result["error"]
    return result["name"]


def store_file(
    source: Path,
    name: str,
    *,
    on_bytes: Callable[[int], None],
    tick: Callable[[], object] = lambda: None,
) -> tuple[str, int]:
    """Store ``source`` as ``name``; returns the stored name and its size in bytes.

    ``tick`` is called about ten times a second during a remote upload (the worker's
    heartbeat: a long upload must not look like a lost worker).
    """
    size = source.stat().st_size
    try:
        target = local_target(name)
        if target is not None:
            _copy_local(source, target, on_bytes)
            return name, size
        return _upload(source, name, on_bytes, tick), size
    except OSError as exc:
        if exc.errno in (errno.ENOSPC, errno.EDQUOT):
            raise StorageFull("Disk full while saving the output.") from exc
        raise
