"""Reconciler: the last decision about a captured record that has no link (out of scope, not
selected, a Salesforce event that predates sync, ...), so record explain can say why it did not
sync (LS-80/82) instead of "never captured"; and since when each user syncs, which tells a
Salesforce event that predates sync from one created after it (LS-31).

Revision ID: 0201
Revises: 0200
"""

from __future__ import annotations

from alembic import op

revision = "0201"
down_revision = "0200"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE seen_records ADD COLUMN last_reason text")
    op.execute("ALTER TABLE sync_users ADD COLUMN syncing_since timestamptz")


def downgrade() -> None:
    op.execute("ALTER TABLE sync_users DROP COLUMN syncing_since")
    op.execute("ALTER TABLE seen_records DROP COLUMN last_reason")
