"""Input validation at the edge: standard JSON only, and 422s that name the field.

Request bodies are checked before the API parses them.

Python's :func:`json.loads` (which FastAPI uses) accepts ``NaN``, ``Infinity`` and lone
surrogate escapes (``"\\ud800"``); none is JSON text (RFC 8259) and none can be stored or
answered safely (PostgreSQL and UTF-8 refuse lone surrogates, Starlette refuses to write
``NaN``, and the error echo itself then fails as a 500). This gate refuses them, NUL
characters, bodies that are not UTF-8, nesting deeper than :data:`MAX_DEPTH` and bodies
larger than ``max_bytes``, with a 4xx that names where in the body the bad value is. It
runs on every non-GET request whose body FastAPI would parse as JSON (a JSON content
type, or none); form uploads pass untouched (their fields are bounded by the schemas).
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = [
    "StrictJSONMiddleware",
    "json_body_error",
    "validation_error_body",
    "MAX_DEPTH",
    "MAX_JSON_BYTES",
]

MAX_DEPTH = 32
MAX_JSON_BYTES = 2 * 1024 * 1024
_SAFE = frozenset({"GET", "HEAD", "OPTIONS"})
_SURROGATE = re.compile("[\ud800-\udfff]")


class _Constant:
    """What ``NaN``, ``Infinity`` and ``-Infinity`` parse to here (then reported)."""

    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name


def _where(path: list[Any]) -> str:
    out = "body"
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else f".{p}"
    return out


def _text_problem(value: str) -> str | None:
    if "\x00" in value:
        return "contains a NUL character (\\x00), which text cannot hold"
    if _SURROGATE.search(value):
        return "contains a lone surrogate (not valid Unicode text)"
    return None


def json_body_error(raw: bytes) -> tuple[str, list[Any]] | None:
    """Why ``raw`` is not an acceptable JSON body, as ``(message, location)``; ``None`` if it is.

    Examples
    --------
    >>> json_body_error(b'{"events": [{"t": NaN}]}')
    ('body.events[0].t: NaN is not a JSON number; send a finite number', ['body', 'events', 0, 't'])
    >>> json_body_error(b'{"a": 1}') is None
    True
    """
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return f"body: not UTF-8 text (invalid byte at offset {exc.start})", ["body"]
    try:
        value = json.loads(text, parse_constant=_Constant)
    except json.JSONDecodeError as exc:
        return f"body: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})", [
            "body"
        ]
    except RecursionError:
        return f"body: nested more than {MAX_DEPTH} levels deep", ["body"]
    except ValueError as exc:  # e.g. an integer of more than 4300 digits
        return f"body: not acceptable JSON ({exc})", ["body"]
    stack: list[tuple[Any, list[Any]]] = [(value, [])]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_DEPTH:
            return f"body: nested more than {MAX_DEPTH} levels deep", ["body", *path[:MAX_DEPTH]]
        if isinstance(node, _Constant):
            return (
                f"{_where(path)}: {node.name} is not a JSON number; send a finite number",
                ["body", *path],
            )
        if isinstance(node, float) and not math.isfinite(node):  # 1e999 parses to inf
            return (
                f"{_where(path)}: a number out of the range of a double; send a finite number",
                ["body", *path],
            )
        if isinstance(node, str):
            problem = _text_problem(node)
            if problem:
                return f"{_where(path)}: {problem}", ["body", *path]
        elif isinstance(node, dict):
            for key, item in node.items():
                problem = _text_problem(key)
                if problem:
                    return f"{_where(path)}: a key {problem}", ["body", *path]
                stack.append((item, [*path, key]))
        elif isinstance(node, list):
            stack.extend((item, [*path, i]) for i, item in enumerate(node))
    return None


def validation_error_body(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """The 422 body of a FastAPI validation error: ``detail`` one line naming each field
    (``"body.events[0].t: Input should be ..."``), ``errors`` their ``loc``, ``msg`` and
    ``type``. The input values are not echoed: they may be a password, or text that
    cannot be written as JSON."""
    out, lines = [], []
    for e in errors:
        loc = list(e.get("loc") or ())
        head = str(loc[0]) if loc else "body"
        where = _where(loc[1:]).replace("body", head, 1)
        msg = str(e.get("msg", "invalid"))
        lines.append(f"{where}: {msg}")
        out.append({"loc": loc, "msg": msg, "type": e.get("type", "value_error")})
    return {"detail": "; ".join(lines) or "invalid request", "errors": out}


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers") or ():
        if name == b"content-type":
            media = value.split(b";", 1)[0].strip().lower()
            subtype = media.partition(b"/")[2]
            return subtype == b"json" or subtype.endswith(b"+json")
    return True  # FastAPI parses a body without a content type as JSON


class StrictJSONMiddleware:
    """Refuses (422, or 413 when too large) a JSON request body that is not standard JSON
    of valid text (see :func:`json_body_error`), before any route sees it."""

    def __init__(self, app: ASGIApp, *, max_bytes: int = MAX_JSON_BYTES) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _SAFE or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size, more = 0, True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await JSONResponse(
                    {"detail": f"body: larger than {self.max_bytes} bytes of JSON"},
                    status_code=413,
                )(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        raw = b"".join(chunks)
        if raw:
            problem = json_body_error(raw)
            if problem is not None:
                message_text, loc = problem
                await JSONResponse(
                    {
                        "detail": message_text,
                        "errors": [{"loc": loc, "msg": message_text, "type": "json_invalid"}],
                    },
                    status_code=422,
                )(scope, receive, send)
                return
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": raw, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
