"""Reconciler tables: records seen per side (matching candidates, deferred initial sync),
initial-sync barriers, the Salesforce e-mail directory for auto-relate, and a delete log.

Revision ID: 0200
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0200"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
-- The latest change captured for every contact/event of a syncing user, per side. Unlinked rows
-- are the matching candidates of the other side (LS-71/72); `deferred` rows wait for the
-- initial-sync barrier so that nothing is created before both sides' snapshots are in.
CREATE TABLE seen_records (
    tenant_id   text NOT NULL,
    user_id     text NOT NULL,
    kind        text NOT NULL,
    side        text NOT NULL,
    record_id   text NOT NULL,
    change      jsonb NOT NULL,
    match_keys  text[] NOT NULL DEFAULT '{}',
    link_id     text,
    deferred    boolean NOT NULL DEFAULT false,
    seq         bigserial,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id, kind, side, record_id)
);
CREATE INDEX seen_records_keys ON seen_records USING gin (match_keys);
CREATE INDEX seen_records_deferred ON seen_records (tenant_id, user_id, seq) WHERE deferred;

-- Which side has finished its initial snapshot for a user (and when).
CREATE TABLE sync_barriers (
    tenant_id     text NOT NULL,
    user_id       text NOT NULL,
    side          text NOT NULL,
    completed_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id, side)
);

-- Salesforce contacts and leads by e-mail, org-wide, for auto-relate (LS-45..48).
CREATE TABLE sf_directory (
    tenant_id  text NOT NULL,
    email      text NOT NULL,
    kind       text NOT NULL CHECK (kind IN ('contact', 'lead')),
    record_id  text NOT NULL,
    PRIMARY KEY (tenant_id, kind, record_id)
);
CREATE INDEX sf_directory_email ON sf_directory (tenant_id, email);

-- Deletes seen per user and side, for the mass-delete guard's window.
CREATE TABLE delete_log (
    tenant_id  text NOT NULL,
    user_id    text NOT NULL,
    kind       text NOT NULL,
    side       text NOT NULL,
    record_id  text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX delete_log_window ON delete_log (tenant_id, user_id, kind, side, at);

-- The effective SyncSettings of a rostered user (null: the user does not sync).
ALTER TABLE sync_users ADD COLUMN settings jsonb;
ALTER TABLE sync_users ADD COLUMN configuration_id text;
"""

DOWNGRADE = """
ALTER TABLE sync_users DROP COLUMN configuration_id;
ALTER TABLE sync_users DROP COLUMN settings;
DROP TABLE delete_log; DROP TABLE sf_directory; DROP TABLE sync_barriers; DROP TABLE seen_records;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
