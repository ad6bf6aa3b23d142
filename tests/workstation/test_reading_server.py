"""Reading time is the server's: through the API, whatever a client sends, a read's recorded
times stay within a second of what the server observed, bad events are refused and never
stored, and a read can always be signed (SQLite and PostgreSQL)."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import func, select

from cxrpilot.workstation._orm import ReadEvent

from .helpers import png_bytes


def _read(world, seed: int):
    case_id = world.upload(png_bytes(seed))["case"]["id"]
    rid, rc = world.user("radiologist")
    read_id = world.admin.ok(
        "post", "/api/reads", 201, json={"case_id": case_id, "reader_id": rid, "arm": "scp"}
    )["id"]
    return read_id, rc


def _stored(world, read_id: int) -> int:
    with world.state.sessions() as db:
        return db.scalar(
            select(func.count()).select_from(ReadEvent).where(ReadEvent.read_id == read_id)
        )


@pytest.mark.parametrize(
    "events",
    [
        [{"kind": "image_shown", "t": 0}],
        [{"kind": "image_shown", "t": -1_000}],
        [{"kind": "heartbeat", "t": 1_700_000_000_000}, {"kind": "image_shown", "t": -5}],
        [{"kind": "heartbeat", "t": 1_700_000_000_000}, {"kind": "keypress", "t": 5}],
    ],
)
def test_a_bad_event_is_refused_and_nothing_of_its_request_is_stored(world, events):
    read_id, rc = _read(world, 1)
    rc.ok("post", f"/api/reads/{read_id}/open")
    r = rc.post(f"/api/reads/{read_id}/events", json={"events": events})
    assert r.status_code == 422, r.text
    assert _stored(world, read_id) == 0


def test_recorded_time_is_the_servers_whatever_the_client_sends(world):
    read_id, rc = _read(world, 2)
    opened = time.time()
    rep = rc.ok("post", f"/api/reads/{read_id}/open")
    now_ms = int(time.time() * 1000)
    hour = 3_600_000
    burst = (
        [{"kind": "image_shown", "t": now_ms - 2 * hour}]  # claims the image was shown 2 h ago
        + [{"kind": "heartbeat", "t": now_ms - 2 * hour + 18_000 * i} for i in range(396)]
        + [{"kind": "focus", "t": now_ms + 24 * hour}]  # and a time a day ahead
        + [{"kind": "image_shown", "t": 1}]  # and the epoch
    )
    assert len(burst) == 399
    assert rc.ok("post", f"/api/reads/{read_id}/events", json={"events": burst})["accepted"] == 399
    time.sleep(1.0)
    before = time.time()
    rc.ok(
        "post",
        f"/api/reads/{read_id}/sign",
        json={"rev": rep["rev"], "findings_text": "Clear lungs.", "impression_text": "Normal."},
    )
    after = time.time()
    read = rc.ok("get", f"/api/reads/{read_id}")["read"]
    # the server saw the read from its opening to its signature: about 1 s, not 2 hours
    assert before - opened - 1.0 <= read["wall_seconds"] <= after - opened + 1.0
    assert 0 <= read["active_seconds"] <= read["wall_seconds"]


def test_a_read_with_bad_events_stored_before_this_check_can_still_be_signed(world):
    """Events stored by an older version (a negative or epoch time) do not block signing."""
    from datetime import timedelta

    from cxrpilot.workstation._orm import utcnow

    read_id, rc = _read(world, 3)
    rep = rc.ok("post", f"/api/reads/{read_id}/open")
    with world.state.sessions() as db:
        for kind, ms in (("image_shown", -5_000), ("image_shown", 0), ("heartbeat", 2**62)):
            db.add(
                ReadEvent(
                    read_id=read_id,
                    kind=kind,
                    client_ms=ms,
                    received_at=utcnow() - timedelta(seconds=1),
                    visible=True,
                    focused=True,
                )
            )
        db.commit()
    signed = rc.ok(
        "post",
        f"/api/reads/{read_id}/sign",
        json={"rev": rep["rev"], "findings_text": "Clear lungs.", "impression_text": "Normal."},
    )
    assert signed["status"] == "final"
    read = rc.ok("get", f"/api/reads/{read_id}")["read"]
    assert 0 <= read["active_seconds"] <= read["wall_seconds"] < 60
