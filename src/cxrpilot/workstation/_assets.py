"""The pages' static files (``static/``) with HTTP caching that is never stale.

The templates name each file by a versioned URL, ``/static/app.css?v=<12 hex digits of its
content's SHA-256>`` (:func:`asset_url`): the browser keeps such a response for a year
without asking again (``Cache-Control: public, max-age=31536000, immutable``), and a changed
file gets another URL, so the next page fetches it. A request without ``v``, or with one that
is not the file's current version (an old page, a worker started by its URL), is answered
``Cache-Control: no-cache``: the browser may keep it but asks each time, with the ETag
(the content hash too, so that a file replaced by another of the same size and modification
time -- a reproducible build sets every time alike -- is never taken for the cached one),
and gets ``304 Not Modified`` while it is unchanged. ``If-Modified-Since`` alone is answered in
full: a date could confirm a replaced file whose time went back. The CSP is not concerned (same origin; a
query string changes nothing for ``script-src 'self'``).
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from fastapi.staticfiles import StaticFiles
from starlette.datastructures import Headers, QueryParams
from starlette.responses import FileResponse, Response
from starlette.staticfiles import NotModifiedResponse
from starlette.types import Scope

STATIC = Path(__file__).resolve().parent / "static"
IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

#: (path, inode, size, mtime_ns, ctime_ns) -> the content's SHA-256 (hex): a file is read
#: again once any of these change (a write sets the ctime, which no program can set back),
#: and once otherwise.
_hashes: dict[tuple[str, int, int, int, int], str] = {}


def _digest(path: str, st: os.stat_result) -> str:
    key = (path, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)
    digest = _hashes.get(key)
    if digest is None:
        with open(path, "rb") as f:
            digest = hashlib.file_digest(f, "sha256").hexdigest()
        for old in [k for k in _hashes if k[0] == path]:
            del _hashes[old]
        _hashes[key] = digest
    return digest


def asset_version(name: str, directory: Path | None = None) -> str:
    """The version of ``<directory>/<name>`` (default :data:`STATIC`) in its URL: 12 hex
    digits of its content's SHA-256."""
    path = str((directory or STATIC) / name)
    return _digest(path, os.stat(path))[:12]


def asset_url(name: str) -> str:
    """``/static/<name>?v=<version>``: the URL the templates give a static file."""
    return f"/static/{name}?v={asset_version(name)}"


class AssetFiles(StaticFiles):
    """``StaticFiles`` with the caching above (versioned: immutable; otherwise: revalidated by a
    content ETag)."""

    def file_response(
        self, full_path: Any, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        digest = _digest(str(full_path), stat_result)
        version = QueryParams(scope.get("query_string", b"")).get("v")
        headers = {
            "ETag": f'"{digest[:32]}"',
            "Cache-Control": IMMUTABLE if version == digest[:12] else REVALIDATE,
        }
        response = FileResponse(full_path, status_code=status_code, stat_result=stat_result, headers=headers)
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response

    def is_not_modified(self, response_headers: Headers, request_headers: Headers) -> bool:
        """Only a matching ETag (``If-None-Match``) confirms the cached copy."""
        tags = request_headers.get("if-none-match")
        if not tags:
            return False
        return response_headers["etag"] in [t.strip().removeprefix("W/") for t in tags.split(",")]
