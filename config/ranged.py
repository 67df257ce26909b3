"""Serving stored files: local ones with HTTP Range support (video players seek with it),
S3 ones by a redirect to a short-lived presigned GET (the bucket does the Range work)."""

from __future__ import annotations

import mimetypes
import re
from collections.abc import Iterator

from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.utils.http import content_disposition_header

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 512 * 1024


def _stream(handle, start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            data = handle.read(min(CHUNK, remaining))
            if not data:
                break
            remaining -= len(data)
            yield data
    finally:
        handle.close()


def parse_range(header: str, size: int) -> tuple[int, int] | None:
    """(first, last) inclusive for one ``bytes=`` range, or None when unsatisfiable."""
    match = RANGE_RE.match(header.strip())
    if not match or size == 0:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":
        length = int(last)
        if length == 0:
            return None
        return max(size - length, 0), size - 1
    start = int(first)
    end = min(int(last), size - 1) if last else size - 1
    if start >= size or end < start:
        return None
    return start, end


def ranged_file_response(
    request: HttpRequest, field_file, *, filename: str, as_attachment: bool = False
) -> HttpResponse:
    """A 200 or 206 response for a stored file; 416 for a range outside it.

    A file on a storage without local paths (S3, R2) answers 302 to a presigned GET
    valid for S3_DOWNLOAD_SECONDS, whose response names ``filename`` in its
    Content-Disposition. Callers check ownership first: the URL works for anyone holding it.
    """
    from games.storage import local_path, presigned_get_url

    storage, name = field_file.storage, field_file.name
    content_type = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    if local_path(storage, name) is None:
        url = presigned_get_url(
            storage,
            name,
            filename=filename,
            content_type=content_type,
            as_attachment=as_attachment,
        )
        response = HttpResponseRedirect(url)
        response["Cache-Control"] = "private, no-store"
        return response
    size = storage.size(name)
    header = request.headers.get("Range", "")
    if not header:
        response = FileResponse(storage.open(name, "rb"), content_type=content_type)
        response["Content-Length"] = str(size)
    else:
        byte_range = parse_range(header, size)
        if byte_range is None:
            response = HttpResponse(status=416)
            response["Content-Range"] = f"bytes */{size}"
            return response
        start, end = byte_range
        response = StreamingHttpResponse(
            _stream(storage.open(name, "rb"), start, end - start + 1),
            status=206,
            content_type=content_type,
        )
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
        response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    response["Content-Disposition"] = content_disposition_header(as_attachment, filename)
    return response
