"""Revision 0007: an index on login_attempts (ip, at) that the per-address throttle uses."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, text

from cxrpilot.workstation import _db

#: The per-address throttle's query (``_services.auth._wait_s``, the ``ip`` scope).
THROTTLE_QUERY = (
    "SELECT at FROM login_attempts WHERE ip = '10.0.0.1' AND success = false"
    " AND at >= '2026-01-01' ORDER BY at DESC LIMIT 5"
)


def _plan(conn, dialect: str) -> str:
    if dialect == "sqlite":
        rows = conn.execute(text("EXPLAIN QUERY PLAN " + THROTTLE_QUERY)).all()
        return " ".join(str(r[-1]) for r in rows)
    conn.execute(text("SET enable_seqscan = off"))  # a near-empty table: ask for the index
    return " ".join(r[0] for r in conn.execute(text("EXPLAIN " + THROTTLE_QUERY)).all())


def _indexes(engine) -> set[str]:
    return {i["name"] for i in inspect(engine).get_indexes("login_attempts")}


@pytest.mark.parametrize("empty_url", ["sqlite", "postgres"], indirect=True)
def test_0007_the_address_throttle_query_uses_an_index_and_rows_are_kept(empty_url):
    engine = _db.make_engine(empty_url)
    try:
        _db.upgrade(engine, "0006")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO login_attempts (username, ip, at, success) VALUES"
                    " ('a', '10.0.0.1', '2026-02-01 10:00:00', false),"
                    " ('b', '10.0.0.1', '2026-02-01 10:00:01', false)"
                )
            )
        with engine.connect() as conn:
            assert "ix_login_attempts_ip_at" not in _plan(conn, engine.dialect.name)
        _db.upgrade(engine, "0007")
        assert {"ix_login_attempts_key", "ix_login_attempts_ip_at"} <= _indexes(engine)
        with engine.connect() as conn:
            assert "ix_login_attempts_ip_at" in _plan(conn, engine.dialect.name)
            assert conn.execute(text(THROTTLE_QUERY)).scalars().all() != []
        _db.downgrade(engine, "0006")
        assert "ix_login_attempts_ip_at" not in _indexes(engine)
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM login_attempts")).scalar_one() == 2
    finally:
        engine.dispose()
