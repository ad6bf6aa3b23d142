"""Revision 0008: the ``pull_refusals`` table; existing rows are kept both ways."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from cxrpilot.workstation import _db


@pytest.mark.parametrize("empty_url", ["sqlite", "postgres"], indirect=True)
def test_0008_adds_pull_refusals_and_keeps_rows(empty_url):
    engine = _db.make_engine(empty_url)
    try:
        _db.upgrade(engine, "0007")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO login_attempts (username, ip, at, success) VALUES"
                    " ('a', '10.0.0.1', '2026-02-01 10:00:00', false)"
                )
            )
        assert "pull_refusals" not in inspect(engine).get_table_names()
        _db.upgrade(engine, "0008")
        columns = {c["name"] for c in inspect(engine).get_columns("pull_refusals")}
        assert columns == {"sop_sha256", "reason", "refused_at"}
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO pull_refusals (sop_sha256, reason, refused_at) VALUES"
                    " (:k, 'CT: not a radiograph', '2026-02-01 10:00:00')"
                ),
                {"k": "a" * 64},
            )
            with pytest.raises(Exception, match="(?i)unique|duplicate"):
                with conn.begin_nested():
                    conn.execute(
                        text(
                            "INSERT INTO pull_refusals (sop_sha256, reason, refused_at) VALUES"
                            " (:k, 'again', '2026-02-01 10:00:01')"
                        ),
                        {"k": "a" * 64},
                    )
        _db.downgrade(engine, "0007")
        assert "pull_refusals" not in inspect(engine).get_table_names()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM login_attempts")).scalar_one() == 1
        _db.upgrade(engine)
        assert _db.current_revision(engine) == _db.head_revision()
    finally:
        engine.dispose()
