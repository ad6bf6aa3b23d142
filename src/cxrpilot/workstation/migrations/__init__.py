"""Alembic revisions of the workstation schema (``versions/``), run by ``_db.upgrade``.

Each revision is a frozen, self-contained snapshot: it spells out its own tables, columns and
constraints and imports nothing from the ORM or from other revisions, so that a later change
to the application can never change what an old revision does. ``alembic revision
--autogenerate`` writes revisions that way: :func:`render_item` renders the ORM's one custom
type as the plain column type it stores, so ``script.py.mako`` needs no ORM import. The
revisions therefore repeat the ``sa.Column(...)`` shapes of earlier revisions; ``duplicates``
lists those pairs, and they are kept on purpose.

A revision's identity is its ``revision`` and ``down_revision`` variables, written once (not
again in the docstring); ``branch_labels`` and ``depends_on`` appear only when set (Alembic
reads them as ``None`` when absent); git records when a revision was written.
"""

from __future__ import annotations

from typing import Any

__all__ = ["render_item"]


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Alembic's ``render_item`` hook: ``UTCDateTime`` columns are written as
    ``sa.DateTime(timezone=True)`` (the type they create); anything else as Alembic
    renders it (``False``)."""
    from cxrpilot.workstation._orm import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False
