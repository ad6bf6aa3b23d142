"""The PACS pull, as the audit log records it (the pull itself is :class:`.._inbound.Inbound`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from ._common import Actor, audit


def record_pull(db: Session, actor: Actor, summary: dict[str, Any]) -> None:
    """Audit one pull that ``actor`` asked for (``summary``: the pull report's ``to_dict()``),
    and commit."""
    audit(
        db,
        actor,
        "pacs.pull",
        "pacs",
        None,
        since=summary["since"],
        stored=summary["stored"],
        refused=len(summary["refused"]),
        skipped=summary["skipped"],
        forgotten=summary["forgotten"],
    )
    db.commit()
