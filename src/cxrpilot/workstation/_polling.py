"""What the workstation's background threads (the draft worker, the outbox sender) share: the
name their leases carry, the compare-and-set claim of a leased row, and the polling loop."""

from __future__ import annotations

import logging
import os
import threading
import uuid
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.orm import Session

__all__ = ["CLAIM_BATCH", "claim_row", "lease_holder_name", "run_until_stopped"]

#: How many due rows one :func:`claim_row` tries (another thread may win the first ones).
CLAIM_BATCH = 8

_Row = TypeVar("_Row")


def lease_holder_name() -> str:
    """A name unique to one worker or sender (host, process, random suffix): the rows it
    leases carry it, and only the holder of a lease may finish the row."""
    return f"{os.uname().nodename}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def claim_row(
    db: Session, model: type[_Row], due: ColumnElement[bool], **values: Any
) -> _Row | None:
    """Lease the oldest ``due`` row of ``model`` (a table with an integer ``id``) or None.

    Each of the first :data:`CLAIM_BATCH` due rows is tried in ``id`` order by a compare-and-set
    ``UPDATE ... SET values WHERE id = :id AND due``, committed at once: of several threads or
    processes only one wins a row (safe on SQLite and PostgreSQL), the others try the next. The
    row won is returned as it is now in the database."""
    ids = db.scalars(select(model.id).where(due).order_by(model.id).limit(CLAIM_BATCH)).all()
    for row_id in ids:
        result = db.execute(update(model).where(model.id == row_id, due).values(**values))
        db.commit()
        if result.rowcount == 1:
            return db.get(model, row_id, populate_existing=True)
    return None


def run_until_stopped(
    run_once: Callable[[], bool],
    stop: threading.Event,
    wake: threading.Event,
    *,
    poll_s: float,
    log: logging.Logger,
    what: str,
) -> None:
    """Call ``run_once`` until ``stop`` is set; when it found nothing to do (returned False),
    wait for ``wake`` or ``poll_s`` seconds. An exception is logged as ``"<what> error"`` and
    the loop goes on: a database hiccup must not kill the thread."""
    while not stop.is_set():
        try:
            busy = run_once()
        except Exception:
            log.exception("%s error", what)
            busy = False
        if not busy:
            wake.wait(poll_s)
            wake.clear()
