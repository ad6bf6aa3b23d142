"""Reading time from client events, and the edit distance between draft and signed text.

Both are pure functions: the service layer feeds them what the database holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from cxrpilot.errors import InvalidInputError

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
    """Times of one read, as the server measured them.

    Attributes
    ----------
    started_at : datetime or None
        When the image was first shown (``None`` when the client never said so): the
        client's time of its ``image_shown`` event, clamped to when the server received it
        and to the read's life (not before the server first heard of the read).
    signed_at : datetime
    wall_seconds : float or None
        ``signed_at - started_at`` (never negative).
    active_seconds : float or None
        Time with the page visible and focused, each stretch capped at the heartbeat
        timeout after the last event (a closed laptop or a dropped network does not count)
        and to within the heartbeat timeout of a request the server received (events sent
        in one burst count for one request's worth of time, whatever times they claim).
        Never more than ``wall_seconds``.
    """

    started_at: datetime | None
    signed_at: datetime
    wall_seconds: float | None
    active_seconds: float | None


Interval = tuple[float, float]


def _union(intervals: Sequence[Interval]) -> list[Interval]:
    """The union of ``[a, b]`` intervals, as disjoint sorted intervals."""
    out: list[list[float]] = []
    for a, b in sorted(i for i in intervals if i[1] > i[0]):
        if out and a <= out[-1][1]:
            out[-1][1] = max(out[-1][1], b)
        else:
            out.append([a, b])
    return [(a, b) for a, b in out]


def _intersect_length(xs: list[Interval], ys: list[Interval]) -> float:
    """Total length of the intersection of two disjoint sorted interval lists."""
    total, i, j = 0.0, 0, 0
    while i < len(xs) and j < len(ys):
        lo, hi = max(xs[i][0], ys[j][0]), min(xs[i][1], ys[j][1])
        total += max(0.0, hi - lo)
        if xs[i][1] < ys[j][1]:
            i += 1
        else:
            j += 1
    return total


def compute_reading_time(
    events: Sequence[ClientEvent],
    signed_at: datetime,
    *,
    opened_at: datetime | None = None,
    heartbeat_timeout_s: float = 30.0,
) -> ReadingTime:
    """Reading time of one read from its client events, measured by the server.

    Client events are hints. Each event's client time is shifted by the smallest
    (receipt - client) difference over the read's events, which removes the client's
    clock error (plus the smallest network delay) while keeping the client's spacing of
    events; then it is clamped to the read's life: not after the server received it (nor
    after ``signed_at``), not before the server first heard of the read (``opened_at`` or
    the earliest receipt, whichever is first). Active time counts only the stretches the
    server can vouch for: within ``heartbeat_timeout_s`` of a request it received (an
    event, the opening, the signature). So an event at the epoch, a future time, or 399
    heartbeats sent at once cannot make a read longer or more active than the server saw.

    Parameters
    ----------
    events : sequence of ClientEvent
        In any order.
    signed_at : datetime
        Aware UTC time at which the report was signed (the server's).
    opened_at : datetime or None
        When the server first opened the read's report (the read's life begins there, or
        at its earliest event receipt if that came first).
    heartbeat_timeout_s : float
        Longest stretch counted as active after one event without another, and how far
        from a received request active time may lie.

    Raises
    ------
    InvalidInputError
        If ``signed_at`` or ``opened_at`` is naive, or ``heartbeat_timeout_s`` is not > 0.

    Examples
    --------
    >>> from datetime import UTC, datetime, timedelta
    >>> t0 = datetime(2026, 1, 1, tzinfo=UTC)
    >>> ev = [ClientEvent("image_shown", 0, t0, True, True)]
    >>> compute_reading_time(ev, t0 + timedelta(seconds=12), heartbeat_timeout_s=60).active_seconds
    12.0
    """
    if signed_at.tzinfo is None:
        raise InvalidInputError(f"signed_at must be an aware UTC datetime, got naive {signed_at!r}")
    if opened_at is not None and opened_at.tzinfo is None:
        raise InvalidInputError(f"opened_at must be an aware UTC datetime, got naive {opened_at!r}")
    if heartbeat_timeout_s <= 0:
        raise InvalidInputError(f"heartbeat_timeout_s must be > 0, got {heartbeat_timeout_s!r}")
    shown = [e for e in events if e.kind == "image_shown"]
    if not shown:
        return ReadingTime(None, signed_at, None, None)
    end = signed_at.timestamp()
    receipts = [min(e.received_at.timestamp(), end) for e in events]
    life_start = min(receipts)
    if opened_at is not None:
        life_start = min(life_start, opened_at.timestamp())
    offset_s = min(r - e.client_ms / 1000.0 for r, e in zip(receipts, events, strict=True))

    def server_s(e: ClientEvent, received: float) -> float:
        return min(max(e.client_ms / 1000.0 + offset_s, life_start), received)

    timeline = sorted(
        ((server_s(e, r), e) for r, e in zip(receipts, events, strict=True)),
        key=lambda te: te[0],
    )
    start = min(t for t, e in timeline if e.kind == "image_shown")
    timeline = [(t, e) for t, e in timeline if t >= start]
    stretches: list[Interval] = []
    for i, (t, e) in enumerate(timeline):
        t_next = timeline[i + 1][0] if i + 1 < len(timeline) else end
        if e.visible and e.focused:
            stretches.append((t, min(t_next, t + heartbeat_timeout_s, end)))
    heard = [*receipts, end] + ([opened_at.timestamp()] if opened_at is not None else [])
    vouched = _union([(r - heartbeat_timeout_s, r + heartbeat_timeout_s) for r in heard])
    active = _intersect_length(_union(stretches), [(a, b) for a, b in vouched])
    wall = end - start
    started_at = datetime.fromtimestamp(start, tz=UTC)
    return ReadingTime(started_at, signed_at, round(wall, 3), round(min(active, wall), 3))


def edit_distance(a: str, b: str, *, unit: str = "char") -> int:
    """Levenshtein distance between a draft and a signed text, in characters or in words.

    A thin front to :func:`cxrpilot.evaluation.char_edit_distance` and
    :func:`cxrpilot.evaluation.word_edit_distance`, which own the definition (word
    tokenisation included), so that the ``edit_distance_words`` stored when a read is
    signed equals what ``cxrpilot eval study`` recomputes from the export. Rows signed
    before the definition was shared counted case-kept words and punctuation marks; see
    :func:`~cxrpilot.evaluation.word_edit_distance`.

    Parameters
    ----------
    a, b : str
    unit : {"char", "word"}

    Raises
    ------
    InvalidInputError
        If ``unit`` is neither, or a text is not a string.

    Examples
    --------
    >>> edit_distance("kitten", "sitting")
    3
    >>> edit_distance("No acute findings.", "No acute cardiopulmonary findings.", unit="word")
    1
    """
    # Imported here: cxrpilot.evaluation brings scipy and scikit-learn, which the app
    # otherwise does not load at start-up.
    from cxrpilot.evaluation import char_edit_distance, word_edit_distance

    if unit == "char":
        return char_edit_distance(a, b)
    if unit == "word":
        return word_edit_distance(a, b)
    raise InvalidInputError(f"unit must be 'char' or 'word', got {unit!r}")
