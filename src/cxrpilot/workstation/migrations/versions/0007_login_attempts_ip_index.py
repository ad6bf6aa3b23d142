"""An index on ``login_attempts (ip, at)`` for the per-address login throttle.

The throttle counts an address's recent failures (``WHERE ip = ? AND at >= ?``) on every
login and password check; the existing index ``(username, ip, at)`` cannot serve a query
without the user name, so under a password-spraying flood each login scanned the table.
"""

from alembic import op

revision = "0007"
down_revision = "0006"


def upgrade() -> None:
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.create_index("ix_login_attempts_ip_at", ["ip", "at"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("login_attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_login_attempts_ip_at")
