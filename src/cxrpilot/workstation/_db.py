"""Engines, sessions and migrations: SQLite (WAL, foreign keys, busy timeout) or PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from cxrpilot.errors import InvalidInputError

__all__ = [
    "make_engine",
    "make_sessionmaker",
    "upgrade",
    "downgrade",
    "current_revision",
    "head_revision",
]

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000


def make_engine(url: str) -> Engine:
    """An engine for ``url`` with the connection settings the workstation relies on.

    SQLite: WAL journal, ``synchronous=FULL`` (a committed autosave survives a crash of the
    process and of the machine), foreign keys on, a 30 s busy timeout, and ``BEGIN
    IMMEDIATE`` before the first write of a transaction so that concurrent writers queue on
    the busy timeout instead of failing. PostgreSQL: psycopg 3, a pool sized for 20+
    concurrent readers.
    """
    if url.startswith("sqlite"):
        if ":memory:" in url or url.rstrip("/") in ("sqlite:", "sqlite:/"):
            raise InvalidInputError(
                f"database URL {url!r}: use an SQLite file, not an in-memory database"
            )
        Path(url.split(":///", 1)[1]).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=20,
            max_overflow=20,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record) -> None:  # pragma: no cover - trivial
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cur.close()
            # Implicit BEGIN IMMEDIATE before the first INSERT/UPDATE/DELETE of a transaction.
            dbapi_conn.isolation_level = "IMMEDIATE"

        return engine
    return create_engine(url, pool_size=10, max_overflow=30, pool_pre_ping=True)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Sessions that keep loaded objects usable after commit and refuse to change or delete
    audit events."""
    from ._orm import refuse_audit_changes

    maker = sessionmaker(engine, expire_on_commit=False)
    event.listen(maker, "before_flush", refuse_audit_changes)
    return maker


def _alembic_config(engine: Engine):
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["engine"] = engine
    return cfg


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Migrate the database schema up to ``revision``."""
    from alembic import command

    command.upgrade(_alembic_config(engine), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    """Migrate the database schema down to ``revision`` (``"base"``: no tables)."""
    from alembic import command

    command.downgrade(_alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    """The schema revision the database is at (``None`` when never migrated)."""
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def head_revision() -> str:
    """The newest schema revision shipped with this version."""
    from alembic.script import ScriptDirectory

    head = ScriptDirectory.from_config(_alembic_config(None)).get_current_head()  # type: ignore[arg-type]
    assert head is not None  # the package ships at least one revision
    return head
