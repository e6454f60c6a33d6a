"""Reconciler: indexes for two look-ups every batch makes, which had none and so read all of a
table (or all of a user's rows) once per batch, a cost growing with each tenant's size:

- the open links that hold no record on one side yet (a create to that side in flight), which
  a batch looks up for its users (a capture there may be the echo of our create, LS-71). The
  unique indexes per side only hold links that have that side's id, so this scanned the whole
  links table: 5-11 ms a batch at 20,000 links, 0.05 ms with these;
- the open errors of links that synced again, which a batch closes (by tenant, user and link:
  the unique key's prefix found the user's errors, resolved ones included, and filtered them).

All partial: only links awaiting a side, only open errors. Built concurrently (outside a
transaction), so the tables stay writable meanwhile.

Revision ID: 0202
Revises: 0201
"""

from __future__ import annotations

from alembic import op

revision = "0202"
down_revision = "0201"
branch_labels = None
depends_on = None

_INDEXES = {
    "links_awaiting_exchange": "links (tenant_id, user_id, kind)"
    " WHERE exchange_id IS NULL AND NOT closed",
    "links_awaiting_salesforce": "links (tenant_id, user_id, kind)"
    " WHERE salesforce_id IS NULL AND NOT closed",
    "sync_errors_open_by_link": "sync_errors (tenant_id, user_id, link_id)"
    " WHERE resolved_at IS NULL",
}


def upgrade() -> None:
    with op.get_context().autocommit_block():
        for name, definition in _INDEXES.items():
            op.execute(f"CREATE INDEX CONCURRENTLY IF NOT EXISTS {name} ON {definition}")


def downgrade() -> None:
    with op.get_context().autocommit_block():
        for name in reversed(_INDEXES):
            op.execute(f"DROP INDEX CONCURRENTLY IF EXISTS {name}")
