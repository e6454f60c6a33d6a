"""Exchange connector: command ids whose create was attempted, so only a redelivered create
pays for the marker look-up in the mailbox (one Graph call per applied command otherwise).

Revision ID: 0300
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0300"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE exchange_create_attempts (
            command_id    text PRIMARY KEY,
            attempted_at  timestamptz NOT NULL DEFAULT now()
        );
        """
    )


def downgrade() -> None:
    op.execute("DROP TABLE exchange_create_attempts;")
