"""Alembic revisions: upgrade/downgrade round trip, and the models match the revisions."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect, select, text

from cxrpilot.errors import InvalidInputError
from cxrpilot.workstation import _db
from cxrpilot.workstation._orm import Base

TABLES = {
    "users",
    "sessions",
    "login_attempts",
    "audit_log",
    "exams",
    "images",
    "cases",
    "jobs",
    "drafts",
    "reads",
    "reports",
    "read_events",
    "studies",
    "study_members",
    "study_cases",
    "evaluation_tasks",
    "evaluation_ratings",
    "api_tokens",
    "outbox",
    "pull_refusals",
}


@pytest.mark.parametrize("empty_url", ["sqlite", "postgres"], indirect=True)
def test_upgrade_downgrade_round_trip(empty_url):
    engine = _db.make_engine(empty_url)
    try:
        assert _db.current_revision(engine) is None
        _db.upgrade(engine)
        assert _db.current_revision(engine) == _db.head_revision()
        assert TABLES <= set(inspect(engine).get_table_names())
        _db.downgrade(engine, "base")
        assert _db.current_revision(engine) is None
        assert set(inspect(engine).get_table_names()) - {"alembic_version"} == set()
        _db.upgrade(engine)
        assert TABLES <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


@pytest.mark.parametrize("empty_url", ["sqlite", "postgres"], indirect=True)
def test_0002_draft_maps_keeps_existing_drafts(empty_url):
    """Drafts stored before 0002 get no maps; downgrading drops the column, keeps the rows."""
    engine = _db.make_engine(empty_url)
    try:
        _db.upgrade(engine, "0001")
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO images (id, source_sha256, display_sha256, display_path, format,"
                    " width, height, meta, created_at) VALUES (1, 'a', 'b', 'p', 'png', 2, 2,"
                    " '{}', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO cases (id, image_id, label, indication, reference_text, source,"
                    " created_at) VALUES (1, 1, 'C1', '', '', 'upload', CURRENT_TIMESTAMP)"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO drafts (id, case_id, model_id, model_version, findings,"
                    " findings_text, impression_text, timings, created_at) VALUES"
                    " (1, 1, 'm', '1', '[]', 'f', 'i', '{}', CURRENT_TIMESTAMP)"
                )
            )
        _db.upgrade(engine, "0002")
        with engine.connect() as conn:
            maps = conn.execute(select(Base.metadata.tables["drafts"].c.maps)).scalar_one()
        assert maps == []
        assert "maps" in {c["name"] for c in inspect(engine).get_columns("drafts")}
        _db.downgrade(engine, "0001")
        assert "maps" not in {c["name"] for c in inspect(engine).get_columns("drafts")}
        with engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM drafts")).scalar_one() == 1
    finally:
        engine.dispose()


@pytest.mark.parametrize("empty_url", ["sqlite", "postgres"], indirect=True)
def test_models_match_the_migrations(empty_url):
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from cxrpilot.workstation import (
        _interop_orm,  # noqa: F401
        _study_orm,  # noqa: F401
    )

    engine = _db.make_engine(empty_url)
    try:
        _db.upgrade(engine)
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        assert diff == [], f"models differ from the migrations: {diff}"
    finally:
        engine.dispose()


@pytest.mark.parametrize("empty_url", ["sqlite"], indirect=True)
def test_sqlite_connection_settings(empty_url):
    engine = _db.make_engine(empty_url)
    try:
        with engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
            assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
    finally:
        engine.dispose()


def test_in_memory_sqlite_is_refused():
    with pytest.raises(InvalidInputError, match="use an SQLite file"):
        _db.make_engine("sqlite:///:memory:")


def test_autogenerate_writes_a_revision_that_imports_nothing_of_the_application(tmp_path):
    """``alembic revision --autogenerate`` through the shipped env.py and script.py.mako (from
    an empty history, so the whole schema is written): the revision uses ``sa`` types only."""
    import shutil

    from alembic import command
    from alembic.config import Config

    scripts = tmp_path / "migrations"
    shutil.copytree(_db.MIGRATIONS, scripts, ignore=shutil.ignore_patterns("versions", "__pycache__"))
    (scripts / "versions").mkdir()
    engine = _db.make_engine(f"sqlite:///{tmp_path / 'empty.sqlite'}")
    try:
        cfg = Config()
        cfg.set_main_option("script_location", str(scripts))
        cfg.attributes["engine"] = engine
        command.revision(cfg, message="everything", autogenerate=True, rev_id="9999")
    finally:
        engine.dispose()
    (written,) = (scripts / "versions").glob("9999_*.py")
    code = written.read_text(encoding="utf-8")
    assert "cxrpilot" not in code
    assert "UTCDateTime" not in code
    assert "sa.Column('created_at', sa.DateTime(timezone=True), nullable=False)" in code
    assert "op.create_table('users'" in code
    compile(code, str(written), "exec")
