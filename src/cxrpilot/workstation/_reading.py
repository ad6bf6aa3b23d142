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
