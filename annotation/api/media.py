"""Serving video files with HTTP Range support: browsers seek in <video> with Range requests."""

import mimetypes
import os
import re

from django.http import FileResponse, HttpRequest, HttpResponse, StreamingHttpResponse

_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024


def parse_range(header: str, size: int) -> tuple[int, int] | None | str:
    """(first, last) inclusive for a satisfiable single range; None to ignore the header; "unsatisfiable" for 416.

    Multi-range requests are answered with the whole file (RFC 9110 lets a server ignore Range).
    """
    match = _RANGE.match(header.strip())
    if match is None:
        return None
    first_text, last_text = match.groups()
    if not first_text and not last_text:
        return None
    if not first_text:  # suffix range: the last N bytes
        length = int(last_text)
        if length == 0:
            return "unsatisfiable"
        return max(size - length, 0), size - 1
    first = int(first_text)
    if last_text and int(last_text) < first:
        return None
    if first >= size:
        return "unsatisfiable"
    last = int(last_text) if last_text else size - 1
    return first, min(last, size - 1)


def _iter_file(path: str, first: int, length: int):
    with open(path, "rb") as handle:
        handle.seek(first)
        left = length
        while left > 0:
            chunk = handle.read(min(CHUNK, left))
            if not chunk:
                return
            left -= len(chunk)
            yield chunk


def ranged_file_response(request: HttpRequest, path: str) -> HttpResponse:
    size = os.path.getsize(path)
    content_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    wanted = parse_range(request.headers.get("Range", ""), size) if "Range" in request.headers else None
    if wanted == "unsatisfiable":
        response = HttpResponse(status=416)
        response["Content-Range"] = f"bytes */{size}"
    elif wanted is None:
        response = FileResponse(open(path, "rb"), content_type=content_type)  # noqa: SIM115  (closed by Django)
    else:
        first, last = wanted
        response = StreamingHttpResponse(_iter_file(path, first, last - first + 1), status=206, content_type=content_type)
        response["Content-Length"] = str(last - first + 1)
        response["Content-Range"] = f"bytes {first}-{last}/{size}"
    response["Accept-Ranges"] = "bytes"
    # Media is per-user (leases, roles): private caching only.
    response["Cache-Control"] = "private, max-age=3600"
    return response
