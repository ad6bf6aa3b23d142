"""Study integrity and conflict-safe reads: frozen report versions, every seed kept, protocol
deviations, the signer's answer on an unedited AI draft, one ad-hoc read per assignment.

``reports.frozen_at``: when the version became the one a study's evaluators rate (set at
evaluation start; NULL for every existing row). ``reports.unedited_confirmed``: true when
the signer confirmed signing the AI draft unedited. ``study_seeds``: every randomisation
and evaluation seed drawn (existing ``studies.seed`` / ``evaluation_seed`` values are
copied in). ``protocol_deviations``: amendments or signatures after evaluation started,
and evaluations started with unsigned reads. ``uq_reads_adhoc_assignment``: a partial
unique index on reads outside a study (``study_id IS NULL``), which the existing unique
constraint cannot cover (NULLs are distinct in it).

The upgrade refuses, naming them, duplicate ad-hoc reads made before this revision
(delete or move the extra ones first: nothing is deleted here).
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"

_WHERE = sa.text("study_id IS NULL")


def _refuse_duplicate_adhoc_reads() -> None:
    rows = op.get_bind().execute(
        sa.text(
            "SELECT case_id, reader_id, period, COUNT(*) FROM reads WHERE study_id IS NULL "
            "GROUP BY case_id, reader_id, period HAVING COUNT(*) > 1"
        )
    ).all()
    if rows:
        listed = ", ".join(f"case {c} reader {r} period {p} ({n} reads)" for c, r, p, n in rows[:10])
        raise RuntimeError(
            f"revision 0006: duplicate reads outside a study: {listed}; keep one read per "
            "(case, reader, period), delete the others, then upgrade again"
        )


def upgrade() -> None:
    _refuse_duplicate_adhoc_reads()
    op.add_column("reports", sa.Column("unedited_confirmed", sa.Boolean(), nullable=True))
    op.add_column("reports", sa.Column("frozen_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index(
        "uq_reads_adhoc_assignment",
        "reads",
        ["case_id", "reader_id", "period"],
        unique=True,
        sqlite_where=_WHERE,
        postgresql_where=_WHERE,
    )
    op.create_table(
        "study_seeds",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("purpose", sa.String(length=16), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("drawn_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("drawn_by_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "purpose IN ('randomise', 'evaluation')", name=op.f("ck_study_seeds_purpose")
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
            name=op.f("fk_study_seeds_study_id_studies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["drawn_by_id"], ["users.id"], name=op.f("fk_study_seeds_drawn_by_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_study_seeds")),
    )
    op.create_index(op.f("ix_study_seeds_study_id"), "study_seeds", ["study_id"], unique=False)
    op.create_table(
        "protocol_deviations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("read_id", sa.Integer(), nullable=True),
        sa.Column("report_id", sa.Integer(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "kind IN ('amended_after_freeze', 'signed_after_freeze', "
            "'evaluation_started_unsigned')",
            name=op.f("ck_protocol_deviations_kind"),
        ),
        sa.ForeignKeyConstraint(
            ["study_id"],
            ["studies.id"],
            name=op.f("fk_protocol_deviations_study_id_studies"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["read_id"],
            ["reads.id"],
            name=op.f("fk_protocol_deviations_read_id_reads"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["report_id"],
            ["reports.id"],
            name=op.f("fk_protocol_deviations_report_id_reports"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["actor_id"], ["users.id"], name=op.f("fk_protocol_deviations_actor_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_protocol_deviations")),
    )
    op.create_index(
        op.f("ix_protocol_deviations_study_id"), "protocol_deviations", ["study_id"], unique=False
    )
    # The seeds recorded so far (the latest of each study; earlier ones were overwritten).
    for column, purpose, at in (
        ("seed", "randomise", "randomised_at"),
        ("evaluation_seed", "evaluation", "created_at"),
    ):
        op.execute(
            "INSERT INTO study_seeds (study_id, purpose, seed, drawn_at, drawn_by_id) "
            f"SELECT id, '{purpose}', {column}, COALESCE({at}, created_at), NULL FROM studies "
            f"WHERE {column} IS NOT NULL"
        )


def downgrade() -> None:
    op.drop_index(op.f("ix_protocol_deviations_study_id"), table_name="protocol_deviations")
    op.drop_table("protocol_deviations")
    op.drop_index(op.f("ix_study_seeds_study_id"), table_name="study_seeds")
    op.drop_table("study_seeds")
    op.drop_index("uq_reads_adhoc_assignment", table_name="reads")
    op.drop_column("reports", "frozen_at")
    op.drop_column("reports", "unedited_confirmed")
