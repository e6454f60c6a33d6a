"""Documents that are only stored and read back whole become `json`, not `jsonb`: a link's
state (links.state, ~2.7 KB), a queued message (outbox.payload) and a remembered capture
(seen_records.change). Nothing queries inside them with jsonb operators; every write paid
for parsing the text into jsonb's binary form (~22 us of PostgreSQL CPU per link state, most
of the reconciler's per-link database cost) and every read for printing it back, and `json`
keeps the text as it came after checking its syntax. Link states and captures are above
PostgreSQL's 2 KB compression threshold, so they use lz4 where the server has it (Debian's
builds do): several times faster than the default pglz at a similar size.

The type change rewrites the three tables under an exclusive lock (seconds per million rows on
this machine's disk); run it in a quiet window on a large installation.

Revision ID: 0203
Revises: 0202
"""

from __future__ import annotations

from alembic import op

revision = "0203"
down_revision = "0202"
branch_labels = None
depends_on = None

_COLUMNS = (("links", "state"), ("outbox", "payload"), ("seen_records", "change"))
_COMPRESSED = (("links", "state"), ("seen_records", "change"))


def upgrade() -> None:
    for table, column in _COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE json USING {column}::json")
    for table, column in _COMPRESSED:
        op.execute(
            f"""
            DO $$ BEGIN
                ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION lz4;
            EXCEPTION WHEN feature_not_supported THEN
                RAISE NOTICE 'no lz4 in this server: {table}.{column} keeps pglz';
            END $$
            """
        )


def downgrade() -> None:
    for table, column in _COMPRESSED:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET COMPRESSION default")
    for table, column in _COLUMNS:
        op.execute(f"ALTER TABLE {table} ALTER COLUMN {column} TYPE jsonb USING {column}::jsonb")
