"""Revision 0003: report sections and case priority; signed sections are read-only."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text
from sqlalchemy.exc import DatabaseError

from cxrpilot.workstation import _db

ROWS = (
    ("INSERT INTO images (id, source_sha256, display_sha256, display_path, format, width, height,"
    " meta, created_at) VALUES (1, 'a', 'b', 'p', 'png', 2, 2, '{}', CURRENT_TIMESTAMP)"),
    ("INSERT INTO cases (id, image_id, label, indication, reference_text, source, created_at)"
    " VALUES (1, 1, 'C1', '', '', 'upload', CURRENT_TIMESTAMP)"),
    ("INSERT INTO users (id, username, display_name, role, password_hash, active, created_at)"
    " VALUES (1, 'r', '', 'radiologist', 'x', true, CURRENT_TIMESTAMP)"),
    ("INSERT INTO reads (id, case_id, reader_id, arm, period, status, created_at)"
    " VALUES (1, 1, 1, 'scp', 1, 'signed', CURRENT_TIMESTAMP)"),
    ("INSERT INTO reports (id, read_id, version, status, origin, draft_text, findings_text,"
    " impression_text, rev, amendment_reason, created_at, updated_at, signed_at) VALUES"
    " (1, 1, 1, 'final', 'template', '', 'f', 'i', 1, '', CURRENT_TIMESTAMP, CURRENT_TIMESTAMP,"
    " CURRENT_TIMESTAMP)"),
)


@pytest.mark.parametrize("empty_url", ["sqlite", "postgres"], indirect=True)
def test_0003_sections_default_empty_and_are_read_only_once_signed(empty_url):
    engine = _db.make_engine(empty_url)
    try:
        _db.upgrade(engine, "0002")
        with engine.begin() as conn:
            for row in ROWS:
                conn.execute(text(row))
        _db.upgrade(engine, "0003")
        with engine.connect() as conn:
            got = conn.execute(
                text("SELECT indication_text, technique_text, comparison_text FROM reports")
            ).one()
            assert tuple(got) == ("", "", "")
            assert conn.execute(text("SELECT priority FROM cases")).scalar_one() == "routine"
        for column in ("indication_text", "technique_text", "comparison_text", "findings_text"):
            with pytest.raises(DatabaseError, match="read-only"), engine.begin() as conn:
                conn.execute(text(f"UPDATE reports SET {column} = 'changed' WHERE id = 1"))
        _db.downgrade(engine, "0002")
        assert "technique_text" not in {c["name"] for c in inspect(engine).get_columns("reports")}
        assert "priority" not in {c["name"] for c in inspect(engine).get_columns("cases")}
        with pytest.raises(DatabaseError, match="read-only"), engine.begin() as conn:
            conn.execute(text("UPDATE reports SET findings_text = 'changed' WHERE id = 1"))
    finally:
        engine.dispose()
