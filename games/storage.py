"""Where files live: the configured default storage, local (MEDIA_ROOT) or S3-compatible.

Everything S3-specific here reads the storage's own configuration (bucket, endpoint,
credentials, key prefix), so ``STORAGES["default"]`` is the single source of truth and a
test that switches it with the ``settings`` fixture switches every code path at once.
Names passed around are storage names (``u7/games/3/match.mp4``); the object key in the
bucket is the storage's ``location`` (S3_PREFIX) joined with the name.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files.storage import Storage, storages
from django.utils.http import content_disposition_header

CHUNK_BYTES = 1024 * 1024

Progress = Callable[[int, int], None]  # (bytes done, bytes total)


def default_storage() -> Storage:
    """The default storage as configured right now (not a copy bound at import time)."""
    return storages["default"]


def is_s3(storage: Storage | None = None) -> bool:
    from storages.backends.s3 import S3Storage

    # isinstance sees through django's lazy default_storage proxy.
    return isinstance(storage if storage is not None else default_storage(), S3Storage)


def local_path(storage: Storage, name: str) -> Path | None:
    """The file's path on this machine, or None for storages without local paths."""
    try:
        return Path(storage.path(name))
    except NotImplementedError:
        return None


def owner_prefix(owner_id: int) -> str:
    """Every file of a user lives under this storage-name prefix."""
    return f"u{owner_id}/"


def s3_client(storage: Storage | None = None):
    """The boto3 client of an S3 storage (its endpoint, region and keys)."""
    storage = storage if storage is not None else default_storage()
    return storage.connection.meta.client


def bucket_name(storage: Storage | None = None) -> str:
    storage = storage if storage is not None else default_storage()
    return storage.bucket_name


def object_key(name: str, storage: Storage | None = None) -> str:
    """The bucket key for a storage name (the storage's prefix joined with it)."""
    from storages.utils import clean_name

    storage = storage if storage is not None else default_storage()
    return storage._normalize_name(clean_name(name))


def presigned_get_url(
    storage: Storage,
    name: str,
    *,
    filename: str,
    content_type: str = "",
    as_attachment: bool = False,
    expires: int | None = None,
) -> str:
    """A short-lived GET URL whose response carries ``filename`` in Content-Disposition."""
    if not is_s3(storage):
        return storage.url(name)  # another remote storage: its own (maybe public) URL
    params = {"ResponseContentDisposition": content_disposition_header(as_attachment, filename)}
    if content_type:
        params["ResponseContentType"] = content_type
    return storage.url(
        name, parameters=params, expire=expires if expires else settings.S3_DOWNLOAD_SECONDS
    )


def presigned_put_url(name: str, *, content_type: str = "", storage: Storage | None = None) -> str:
    """A URL the browser PUTs a whole file to (single-request upload)."""
    params = {"Bucket": bucket_name(storage), "Key": object_key(name, storage)}
    if content_type:
        params["ContentType"] = content_type
    return s3_client(storage).generate_presigned_url(
        "put_object", Params=params, ExpiresIn=settings.S3_PRESIGN_SECONDS
    )


def presigned_part_url(
    name: str, *, upload_id: str, part_number: int, storage: Storage | None = None
) -> str:
    """A URL the browser PUTs one part of a multipart upload to."""
    return s3_client(storage).generate_presigned_url(
        "upload_part",
        Params={
            "Bucket": bucket_name(storage),
            "Key": object_key(name, storage),
            "UploadId": upload_id,
            "PartNumber": part_number,
        },
        ExpiresIn=settings.S3_PRESIGN_SECONDS,
    )


def copy_to(
    storage: Storage, name: str, dest: IO[bytes], *, progress: Progress | None = None
) -> int:
    """Stream a stored file into ``dest`` in chunks; returns the bytes copied.

    On S3 this is one streamed GET read in the calling thread (so a progress callback may
    touch the database); ``storage.open()`` is avoided there because django-storages
    downloads the whole object before the first read.
    """
    if is_s3(storage):
        response = s3_client(storage).get_object(
            Bucket=bucket_name(storage), Key=object_key(name, storage)
        )
        total = int(response.get("ContentLength") or 0)
        chunks = response["Body"].iter_chunks(CHUNK_BYTES)
    else:
        total = storage.size(name)
        handle = storage.open(name, "rb")
        chunks = _read_chunks(handle)
    done = 0
    if progress:
        progress(0, total)
    for chunk in chunks:
        dest.write(chunk)
        done += len(chunk)
        if progress:
            progress(done, total)
    return done


def _read_chunks(handle) -> Iterator[bytes]:
    with handle:
        while chunk := handle.read(CHUNK_BYTES):
            yield chunk


@contextlib.contextmanager
def local_copy(field_file, *, progress: Progress | None = None) -> Iterator[Path]:
    """A local path for a stored file: the file itself on disk, or a temporary download.

    The temporary copy is removed on every exit path (including exceptions and
    generator close). ``progress(done, total)`` is called while a copy is fetched, and
    once with (size, size) for a file that is already local.
    """
    storage, name = field_file.storage, field_file.name
    path = local_path(storage, name)
    if path is not None:
        if progress:
            size = path.stat().st_size
            progress(size, size)
        yield path
        return
    with tempfile.NamedTemporaryFile(
        suffix=Path(name).suffix, prefix="reelforge-fetch-", dir=settings.UPLOAD_TEMP_DIR or None
    ) as tmp:
        copy_to(storage, name, tmp, progress=progress)
        tmp.flush()
        yield Path(tmp.name)
