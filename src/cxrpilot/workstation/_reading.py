"""Reading time from client events, and the edit distance between draft and signed text.

Both are pure functions: the service layer feeds them what the database holds.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

__all__ = ["ClientEvent", "ReadingTime", "compute_reading_time", "edit_distance", "EVENT_KINDS"]

#: Event kinds a client sends while a case is open.
EVENT_KINDS = ("image_shown", "visibility", "focus", "blur", "heartbeat", "edit")


@dataclass(frozen=True, slots=True)
class ClientEvent:
    """One client event: its kind, the client's clock (ms since the epoch), when the server
    received it, and the page state *after* the event (visible, focused)."""

    kind: str
    client_ms: int
    received_at: datetime
    visible: bool
    focused: bool


@dataclass(frozen=True, slots=True)
class ReadingTime:
    """Times of one read.

    Attributes
    ----------
    started_at : datetime or None
        When the image was first shown (``None`` when the client never said so).
    signed_at : datetime
    wall_seconds : float or None
        ``signed_at - started_at``.
    active_seconds : float or None
        Time with the page visible and focused, each stretch capped at the heartbeat
        timeout after the last event (a closed laptop or a dropped network does not count).
    """

    started_at: datetime | None
    signed_at: datetime
    wall_seconds: float | None
    active_seconds: float | None


def compute_reading_time(
    events: Sequence[ClientEvent], signed_at: datetime, *, heartbeat_timeout_s: float = 30.0
) -> ReadingTime:
    """Reading time of one read from its client events.

    Client clocks are not trusted as such: each event's client time is shifted by the
    smallest (receipt - client) difference over the read's events, which removes the
    client's clock error (plus the smallest network delay) while keeping the client's
    precise spacing of events. ``signed_at`` is the server's time of the sign request.

    Parameters
    ----------
    events : sequence of ClientEvent
        In any order.
    signed_at : datetime
        Aware UTC time at which the report was signed.
    heartbeat_timeout_s : float
        Longest stretch counted as active after one event without another.

    Examples
    --------
    >>> from datetime import UTC, datetime, timedelta
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> ev = [ClientEvent("image_shown", 0, t0, True, True)]
    >>> compute_reading_time(ev, t0 + timedelta(seconds=12), heartbeat_timeout_s=60).active_seconds
    12.0
    """
    if signed_at.tzinfo is None:
        raise ValueError(f"signed_at must be an aware UTC datetime, got naive {signed_at!r}")
    if heartbeat_timeout_s <= 0:
        raise ValueError(f"heartbeat_timeout_s must be > 0, got {heartbeat_timeout_s!r}")
    shown = [e for e in events if e.kind == "image_shown"]
    if not shown:
        return ReadingTime(None, signed_at, None, None)
    offset_ms = min(e.received_at.timestamp() * 1000.0 - e.client_ms for e in events)
    end = signed_at.timestamp()

    def server_s(e: ClientEvent) -> float:
        return min((e.client_ms + offset_ms) / 1000.0, end)

    start = min(server_s(e) for e in shown)
    timeline = sorted((server_s(e), e) for e in events if server_s(e) >= start)
    active = 0.0
    for i, (t, e) in enumerate(timeline):
        t_next = timeline[i + 1][0] if i + 1 < len(timeline) else end
        if e.visible and e.focused:
            active += max(0.0, min(t_next, t + heartbeat_timeout_s) - t)
    started_at = datetime.fromtimestamp(start, tz=UTC)
    return ReadingTime(started_at, signed_at, round(end - start, 3), round(active, 3))


_WORD = re.compile(r"\w+|[^\w\s]", re.UNICODE)


def _levenshtein(a: Sequence, b: Sequence) -> int:
    """Levenshtein distance by the bit-parallel algorithm of Myers (1999) / Hyyrö (2003)."""
    if len(a) < len(b):
        a, b = b, a
    m = len(b)
    if m == 0:
        return len(a)
    peq: dict = {}
    for i, symbol in enumerate(b):
        peq[symbol] = peq.get(symbol, 0) | (1 << i)
    mask = (1 << m) - 1
    last = 1 << (m - 1)
    pv, mv, score = mask, 0, m
    for symbol in a:
        eq = peq.get(symbol, 0)
        xv = eq | mv
        xh = ((((eq & pv) + pv) & mask) ^ pv) | eq
        ph = (mv | ~(xh | pv)) & mask
        mh = pv & xh
        if ph & last:
            score += 1
        elif mh & last:
            score -= 1
        ph = ((ph << 1) | 1) & mask
        mh = (mh << 1) & mask
        pv = (mh | ~(xv | ph)) & mask
        mv = ph & xv
    return score


def edit_distance(a: str, b: str, *, unit: str = "char") -> int:
    """Levenshtein distance between two texts, in characters or in words.

    Parameters
    ----------
    a, b : str
    unit : {"char", "word"}
        ``"word"`` compares word and punctuation tokens (case kept).

    Examples
    --------
    >>> edit_distance("kitten", "sitting")
    3
    >>> edit_distance("No acute findings.", "No acute cardiopulmonary findings.", unit="word")
    1
    """
    if unit == "char":
        return _levenshtein(a, b)
    if unit == "word":
        return _levenshtein(_WORD.findall(a), _WORD.findall(b))
    raise ValueError(f"unit must be 'char' or 'word', got {unit!r}")
