"""``pull_refusals``: the SOP instances a DICOMweb pull was refused, kept in the database.

A pull remembered them in the process only, so after a restart (and in every other process:
``cxrpilot pacs pull`` beside a running ``serve``) each poll retrieved the refused instances
again (a CT series, the dog DX) and refused them again. A row per instance, keyed by the
SHA-256 of its SOP Instance UID (the UID of an image not taken is not stored), with the
reason and when. Nothing existing changes; the downgrade drops the table (later pulls then
retrieve those instances once more and refuse them again).
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"


def upgrade() -> None:
    op.create_table(
        "pull_refusals",
        sa.Column("sop_sha256", sa.String(length=64), nullable=False),
        sa.Column("reason", sa.String(length=500), nullable=False),
        sa.Column("refused_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("sop_sha256", name=op.f("pk_pull_refusals")),
    )


def downgrade() -> None:
    op.drop_table("pull_refusals")
