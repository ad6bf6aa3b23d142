"""Row locks that work on both databases, for check-then-write sequences that race.

PostgreSQL (READ COMMITTED) locks the rows an ``UPDATE`` matches until the transaction
ends, and a second transaction's ``UPDATE`` of them waits, then sees the first one's
commit. SQLite has one writer at a time: the engine begins every write transaction with
``BEGIN IMMEDIATE`` (see :func:`cxrpilot.workstation._db.make_engine`), so the first
``UPDATE`` takes the database's write lock and later reads in the transaction see every
commit made before it. A no-op ``UPDATE`` (``SET id = id``) therefore serialises both.
"""

from __future__ import annotations

from typing import Any, TypeVar

from sqlalchemy import update
from sqlalchemy.orm import Session

__all__ = ["lock_rows", "lock_get"]

T = TypeVar("T")


def lock_rows(db: Session, model: type[Any], *where: Any) -> int:
    """Lock the rows of ``model`` matching ``where`` for the rest of the transaction (on
    SQLite: the whole database for writes). Returns how many rows matched. Call it before
    reading what the write depends on; read with ``populate_existing`` after it."""
    statement = (
        update(model)
        .where(*where)
        .values(id=model.id)
        .execution_options(synchronize_session=False)
    )
    return int(db.execute(statement).rowcount or 0)


def lock_get(db: Session, model: type[T], obj_id: int) -> T | None:
    """The row ``obj_id`` of ``model``, locked (see :func:`lock_rows`) and freshly read."""
    lock_rows(db, model, model.id == obj_id)  # type: ignore[attr-defined]
    return db.get(model, obj_id, populate_existing=True)
