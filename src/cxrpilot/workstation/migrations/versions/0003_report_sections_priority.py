"""Reports get INDICATION / TECHNIQUE / COMPARISON sections; cases get a clinical priority.

``reports.indication_text``, ``technique_text``, ``comparison_text``: the report's sections
besides FINDINGS and IMPRESSION (``''`` for reports written before this revision). The
signed-report trigger now refuses changes to them too. ``cases.priority``: ``routine``,
``urgent`` or ``stat`` (checked by the application; existing cases are ``routine``).

Plain ``ADD COLUMN`` / ``DROP COLUMN`` on both backends (as in 0002): a batch rebuild of
``reports`` or ``cases`` on SQLite would re-create tables that others reference.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"

SECTIONS = ("indication_text", "technique_text", "comparison_text")

_OLD_CHANGED = (
    "OLD.signed_at IS NOT NULL AND (NEW.findings_text <> OLD.findings_text "
    "OR NEW.impression_text <> OLD.impression_text OR NEW.signed_at IS NULL "
    "OR NEW.signed_at <> OLD.signed_at OR NEW.status <> OLD.status)"
)
_NEW_CHANGED = _OLD_CHANGED[:-1] + "".join(f" OR NEW.{c} <> OLD.{c}" for c in SECTIONS) + ")"
_MESSAGE = "a signed report is read-only; amend it instead"


def _signed_trigger(condition: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS reports_signed_read_only")
        op.execute(
            "CREATE TRIGGER reports_signed_read_only BEFORE UPDATE ON reports "
            f"WHEN {condition} BEGIN SELECT RAISE(ABORT, '{_MESSAGE}'); END"
        )
        return
    op.execute(
        "CREATE OR REPLACE FUNCTION reports_signed_read_only() RETURNS trigger "
        "LANGUAGE plpgsql AS $$ "
        f"BEGIN IF {condition.replace('<>', 'IS DISTINCT FROM')} THEN "
        f"RAISE EXCEPTION '{_MESSAGE}'; END IF; RETURN NEW; END $$"
    )


def upgrade() -> None:
    for column in SECTIONS:
        op.add_column(
            "reports", sa.Column(column, sa.Text(), nullable=False, server_default=sa.text("''"))
        )
    op.add_column(
        "cases",
        sa.Column("priority", sa.String(8), nullable=False, server_default=sa.text("'routine'")),
    )
    _signed_trigger(_NEW_CHANGED)


def downgrade() -> None:
    _signed_trigger(_OLD_CHANGED)
    op.drop_column("cases", "priority")
    for column in SECTIONS:
        op.drop_column("reports", column)
