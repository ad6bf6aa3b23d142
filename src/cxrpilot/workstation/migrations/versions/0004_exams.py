"""Exams: images and cases grouped by DICOM study, with a pseudonymous patient key.

``exams``: one row per StudyInstanceUID (unique), its accession number, study date,
modality, where it came from, and ``patient_key`` (HMAC-SHA256 of the Patient ID under a
server secret; the ID itself is never stored). ``images.exam_id`` and
``images.sop_instance_uid`` (unique: one image per SOP instance, whatever its encoding);
``cases.exam_id`` (unique: one case per exam) and ``cases.not_drafted_reason`` (why a case
has no AI draft, e.g. an exam with only a lateral view). Existing images and cases keep
NULL exams.

Plain ``ADD COLUMN`` on both backends (as in 0002/0003; a batch rebuild of ``images`` or
``cases`` on SQLite would re-create tables that others reference); on SQLite the foreign
keys are declared inline in ``ADD COLUMN ... REFERENCES`` (SQLite cannot add a constraint
to an existing table), on PostgreSQL as named constraints. Uniqueness of the added columns
is a unique index on both.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"


def _add_exam_column(table: str) -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute(f"ALTER TABLE {table} ADD COLUMN exam_id INTEGER REFERENCES exams (id)")
        return
    op.add_column(table, sa.Column("exam_id", sa.Integer(), nullable=True))
    op.create_foreign_key(op.f(f"fk_{table}_exam_id_exams"), table, "exams", ["exam_id"], ["id"])


def upgrade() -> None:
    op.create_table(
        "exams",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("study_instance_uid", sa.String(length=64), nullable=False),
        sa.Column("accession_number", sa.String(length=64), nullable=True),
        sa.Column("patient_key", sa.String(length=64), nullable=True),
        sa.Column("study_date", sa.Date(), nullable=True),
        sa.Column("modality", sa.String(length=16), nullable=True),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_exams")),
        sa.UniqueConstraint("study_instance_uid", name=op.f("uq_exams_study_instance_uid")),
    )
    op.create_index(op.f("ix_exams_patient_key"), "exams", ["patient_key"], unique=False)
    _add_exam_column("images")
    op.add_column("images", sa.Column("sop_instance_uid", sa.String(length=64), nullable=True))
    op.create_index(op.f("ix_images_exam_id"), "images", ["exam_id"], unique=False)
    op.create_index("ix_images_sop_instance_uid", "images", ["sop_instance_uid"], unique=True)
    _add_exam_column("cases")
    op.add_column(
        "cases",
        sa.Column("not_drafted_reason", sa.Text(), nullable=False, server_default=sa.text("''")),
    )
    op.create_index("ix_cases_exam_id", "cases", ["exam_id"], unique=True)


def downgrade() -> None:
    sqlite = op.get_bind().dialect.name == "sqlite"
    op.drop_index("ix_cases_exam_id", table_name="cases")
    op.drop_column("cases", "not_drafted_reason")
    op.drop_index("ix_images_sop_instance_uid", table_name="images")
    op.drop_index(op.f("ix_images_exam_id"), table_name="images")
    op.drop_column("images", "sop_instance_uid")
    for table in ("cases", "images"):
        if not sqlite:
            op.drop_constraint(op.f(f"fk_{table}_exam_id_exams"), table, type_="foreignkey")
        op.drop_column(table, "exam_id")
    op.drop_index(op.f("ix_exams_patient_key"), table_name="exams")
    op.drop_table("exams")
