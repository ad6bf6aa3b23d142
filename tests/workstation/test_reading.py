"""Reading time from client events, and edit distance (pure functions)."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from cxrpilot.errors import InvalidInputError
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
    client_ms = round((T0.timestamp() + s + skew_s) * 1000)
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
    with pytest.raises(InvalidInputError, match=message):
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


# --- Hostile clients: whatever the events claim, the times stay within what the server saw.

OPENED = T0


def at(kind: str, claimed_s: float, received_s: float, **kw) -> ClientEvent:
    """An event claiming ``claimed_s`` (seconds after T0, client clock) received at
    ``received_s``."""
    return ClientEvent(
        kind,
        round((T0.timestamp() + claimed_s) * 1000),
        T0 + timedelta(seconds=received_s),
        kw.get("visible", True),
        kw.get("focused", True),
    )


def _epoch(kind: str, received_s: float) -> ClientEvent:
    return ClientEvent(kind, 1, T0 + timedelta(seconds=received_s), True, True)


@pytest.mark.parametrize(
    "name, events, signed_s, max_wall, max_active",
    [
        # image_shown claiming the epoch (t = 1 ms): the read began when the server heard of it
        ("epoch", [_epoch("image_shown", 1.0)], 2.0, 2.0, 2.0),
        # 399 heartbeats in one request claiming two hours of activity in a 2-second read
        (
            "burst, short read",
            [at("image_shown", -7200, 1.0)]
            + [at("heartbeat", -7200 + 18 * i, 1.0) for i in range(399)],
            2.0,
            2.0,
            2.0,
        ),
        # the same burst at the end of a read opened two hours ago: one request's worth
        (
            "burst, long read",
            [at("image_shown", 0, 7190)] + [at("heartbeat", 18 * i, 7190) for i in range(399)],
            7200.0,
            7200.0,
            30 + 30 + 40,  # around the opening, and the burst's and the signature's requests
        ),
        # an image_shown claimed a day in the future shifts nothing out of the read's life
        (
            "future",
            [at("image_shown", 86_400, 1.0), at("heartbeat", 3, 3.0)],
            5.0,
            5.0,
            5.0,
        ),
        # an event that arrived after the signature (a race) is clamped to it
        ("after sign", [at("image_shown", 0, 0.5), at("heartbeat", 50, 50)], 10.0, 10.0, 10.0),
    ],
)
def test_hostile_events_cannot_stretch_a_read(name, events, signed_s, max_wall, max_active):
    rt = compute_reading_time(
        events, T0 + timedelta(seconds=signed_s), opened_at=OPENED, heartbeat_timeout_s=30
    )
    assert OPENED <= rt.started_at <= rt.signed_at, name
    assert 0 <= rt.wall_seconds <= max_wall + 1e-6, name
    assert 0 <= rt.active_seconds <= min(max_active, rt.wall_seconds) + 1e-6, name


def test_random_hostile_events_stay_in_the_reads_life():
    rng = random.Random(15)
    for _ in range(300):
        signed_s = rng.uniform(1, 600)
        events = []
        for _ in range(rng.randint(1, 40)):
            received = rng.uniform(0, signed_s + 5)
            claimed = rng.choice([rng.uniform(-1e9, 1e9), received + rng.uniform(-60, 60)])
            kind = rng.choice(["image_shown", "heartbeat", "visibility", "blur", "focus"])
            e = at(kind, claimed, received, visible=rng.random() > 0.2, focused=rng.random() > 0.2)
            events.append(e if e.client_ms > 0 else _epoch(kind, received))
        rt = compute_reading_time(
            events, T0 + timedelta(seconds=signed_s), opened_at=OPENED, heartbeat_timeout_s=30
        )
        if rt.started_at is None:
            assert not any(e.kind == "image_shown" for e in events)
            continue
        first_shown = min(e.received_at for e in events if e.kind == "image_shown")
        assert OPENED <= rt.started_at <= min(first_shown, rt.signed_at)
        assert 0 <= rt.active_seconds <= rt.wall_seconds <= signed_s + 0.001  # rounded to ms


def test_honest_events_sent_as_they_happen_are_unchanged_by_the_clamps():
    events = [ev("image_shown", 0, delay_s=0.05)] + [
        ev("heartbeat", 5 * i, delay_s=0.05) for i in range(1, 24)
    ]
    rt = compute_reading_time(
        events, T0 + timedelta(seconds=120), opened_at=T0 - timedelta(seconds=1)
    )
    assert rt.wall_seconds == pytest.approx(120, abs=0.06)
    assert rt.active_seconds == pytest.approx(120, abs=0.06)
