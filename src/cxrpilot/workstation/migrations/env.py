"""Alembic environment of the workstation: the engine comes from ``config.attributes``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from cxrpilot.workstation import (
    _interop_orm,  # noqa: F401  (tokens, outbox)
    _study_orm,  # noqa: F401  (registers the study tables)
)
from cxrpilot.workstation._orm import Base
from cxrpilot.workstation.migrations import render_item

target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = context.config.attributes.get("engine")
    if engine is None:
        engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=render_item,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():  # pragma: no cover
    raise SystemExit(
        "offline (SQL script) migrations are not supported; run them against a database"
    )
run_migrations_online()
