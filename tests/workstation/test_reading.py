"""Reading time from client events, and edit distance (pure functions)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from cxrpilot.workstation import ClientEvent, compute_reading_time, edit_distance

T0 = datetime(2026, 3, 1, 9, 0, 0, tzinfo=UTC)


def ev(
    kind: str,
    s: float,
    *,
    visible: bool = True,
    focused: bool = True,
    skew_s: float = 0.0,
    delay_s: float = 0.0,
) -> ClientEvent:
    """An event at ``s`` seconds after T0 on a client whose clock is off by ``skew_s``,
    received ``delay_s`` later."""
    client_ms = int(round((T0.timestamp() + s + skew_s) * 1000))
    return ClientEvent(kind, client_ms, T0 + timedelta(seconds=s + delay_s), visible, focused)


@pytest.mark.parametrize(
    "events, signed_s, timeout, expected_wall, expected_active",
    [
        # shown at 0, heartbeats every 10 s, signed at 30: all active
        ([ev("image_shown", 0), ev("heartbeat", 10), ev("heartbeat", 20)], 30, 30, 30, 30),
        # hidden from 10 to 20
        (
            [ev("image_shown", 0), ev("visibility", 10, visible=False), ev("visibility", 20)],
            30,
            30,
            30,
            20,
        ),
        # blurred from 5 to 25
        ([ev("image_shown", 0), ev("blur", 5, focused=False), ev("focus", 25)], 30, 30, 30, 10),
        # no heartbeat for 100 s: active stops 15 s after the last event
        ([ev("image_shown", 0), ev("heartbeat", 10)], 110, 15, 110, 25),
        # a client clock 1 hour fast, small network delay: same result
        (
            [
                ev("image_shown", 0, skew_s=3600, delay_s=0.05),
                ev("heartbeat", 10, skew_s=3600, delay_s=0.4),
            ],
            20,
            30,
            20,
            20,
        ),
        # events before the image was shown do not count; the first image_shown starts the read
        ([ev("heartbeat", -5), ev("image_shown", 2), ev("image_shown", 8)], 12, 30, 10, 10),
    ],
)
def test_reading_time(events, signed_s, timeout, expected_wall, expected_active):
    rt = compute_reading_time(events, T0 + timedelta(seconds=signed_s), heartbeat_timeout_s=timeout)
    assert rt.wall_seconds == pytest.approx(expected_wall, abs=0.06)
    assert rt.active_seconds == pytest.approx(expected_active, abs=0.06)
    assert rt.signed_at == T0 + timedelta(seconds=signed_s)


def test_reading_time_without_image_shown_is_unknown():
    rt = compute_reading_time([ev("heartbeat", 0)], T0 + timedelta(seconds=5))
    assert rt.started_at is None and rt.wall_seconds is None and rt.active_seconds is None


@pytest.mark.parametrize(
    "signed_at, timeout, message",
    [
        (datetime(2026, 1, 1), 30, "aware UTC"),
        (T0, 0, "heartbeat_timeout_s must be > 0"),
    ],
)
def test_reading_time_bad_input(signed_at, timeout, message):
    with pytest.raises(ValueError, match=message):
        compute_reading_time([ev("image_shown", 0)], signed_at, heartbeat_timeout_s=timeout)


@pytest.mark.parametrize(
    "a, b, unit, expected",
    [
        ("", "", "char", 0),
        ("abc", "", "char", 3),
        ("kitten", "sitting", "char", 3),
        ("FINDINGS: x", "FINDINGS: x", "char", 0),
        ("No acute findings.", "No acute cardiopulmonary findings.", "word", 1),
        ("Heart enlarged.", "Heart is normal.", "word", 2),
        ("", "one two three", "word", 3),
    ],
)
def test_edit_distance(a, b, unit, expected):
    assert edit_distance(a, b, unit=unit) == expected
    assert edit_distance(b, a, unit=unit) == expected


def _dp(a, b) -> int:
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def test_edit_distance_matches_dynamic_programming():
    rng = random.Random(7)
    for _ in range(300):
        a = "".join(rng.choice("ab c.") for _ in range(rng.randint(0, 90)))
        b = "".join(rng.choice("abd c") for _ in range(rng.randint(0, 90)))
        assert edit_distance(a, b) == _dp(a, b)


def test_edit_distance_bad_unit():
    with pytest.raises(ValueError, match="unit must be 'char' or 'word'"):
        edit_distance("a", "b", unit="line")
