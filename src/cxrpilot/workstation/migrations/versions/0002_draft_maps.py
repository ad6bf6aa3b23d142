"""Drafts keep the model's maps of where it looked (one per present or uncertain finding).

``drafts.maps`` holds ``Draft.to_dict()["maps"]``: a list of ``{"name", "grid"}``, the grid
rows top to bottom over the whole image. Drafts written before this revision get ``[]``
(no maps), as for models that make none.

Plain ``ADD COLUMN`` / ``DROP COLUMN`` on both backends (SQLite has both since 3.35): a
batch rebuild of ``drafts`` on SQLite would drop and re-create a table that ``reports``
references.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"


def upgrade() -> None:
    op.add_column(
        "drafts",
        sa.Column("maps", sa.JSON(), nullable=False, server_default=sa.text("'[]'")),
    )


def downgrade() -> None:
    op.drop_column("drafts", "maps")
