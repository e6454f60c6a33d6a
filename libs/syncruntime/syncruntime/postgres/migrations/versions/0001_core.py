"""Core schema: tenants, connections, users, links, cursors, offsets, outbox, errors, audit.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

UPGRADE = """
CREATE TABLE tenants (
    id          text PRIMARY KEY,
    name        text NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per connection method of a tenant. Non-secret settings in `config`; secrets only as
-- ciphertext, with the id of the key that encrypted them (key rotation re-encrypts rows).
CREATE TABLE connections (
    tenant_id          text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    kind               text NOT NULL
                       CHECK (kind IN ('exchange_graph', 'exchange_ews', 'salesforce')),
    config             jsonb NOT NULL DEFAULT '{}'::jsonb,
    secret_ciphertext  bytea,
    secret_key_id      text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind)
);

-- Salesforce users as captured, with the roster decision made for them.
CREATE TABLE sync_users (
    tenant_id      text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id        text NOT NULL,
    username       text,
    email          text,
    name           text,
    profile_id     text,
    time_zone      text,
    is_active      boolean NOT NULL DEFAULT true,
    mailbox        text,
    roster         jsonb,
    link_state     text NOT NULL DEFAULT 'not_linked',
    link_reason    text,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id)
);
CREATE INDEX sync_users_email ON sync_users (tenant_id, lower(email));

-- The pairing of one Exchange item with one Salesforce record for one user (three-way state
-- in `state`: versions, fingerprints, merge base, tombstones).
CREATE TABLE links (
    link_id        text PRIMARY KEY,
    tenant_id      text NOT NULL,
    user_id        text NOT NULL,
    kind           text NOT NULL,
    exchange_id    text,
    salesforce_id  text,
    state          jsonb NOT NULL,
    closed         boolean NOT NULL DEFAULT false,
    last_reason    text,
    updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX links_exchange_id ON links (tenant_id, user_id, kind, exchange_id)
    WHERE exchange_id IS NOT NULL;
CREATE UNIQUE INDEX links_salesforce_id ON links (tenant_id, user_id, kind, salesforce_id)
    WHERE salesforce_id IS NOT NULL;

-- A connector's resumable position: Graph deltaLink, EWS SyncState, Salesforce watermark.
CREATE TABLE cursors (
    tenant_id   text NOT NULL,
    side        text NOT NULL CHECK (side IN ('exchange', 'salesforce')),
    scope       text NOT NULL,
    kind        text NOT NULL,
    cursor      text NOT NULL,
    updated_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, side, scope, kind)
);

-- Consumed offsets stored in the same transaction as their effects (exactly-once effects).
CREATE TABLE processed_offsets (
    consumer_group  text NOT NULL,
    topic           text NOT NULL,
    partition       integer NOT NULL,
    next_offset     bigint NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);

-- Commands waiting to be published by the outbox relay.
CREATE TABLE outbox (
    id          bigserial PRIMARY KEY,
    message_id  text NOT NULL UNIQUE,
    topic       text NOT NULL,
    key         text NOT NULL,
    payload     jsonb NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    not_before  timestamptz,
    sent_at     timestamptz
);
CREATE INDEX outbox_unsent ON outbox (id) WHERE sent_at IS NULL;

-- Per-record failures (LS-82), kept >= 30 days after they were last seen.
CREATE TABLE sync_errors (
    id             bigserial PRIMARY KEY,
    tenant_id      text NOT NULL,
    user_id        text NOT NULL,
    kind           text NOT NULL,
    direction      text NOT NULL,
    record_key     text NOT NULL,
    link_id        text,
    exchange_id    text,
    salesforce_id  text,
    code           text NOT NULL,
    reason         text NOT NULL,
    remediation    text,
    retryable      boolean NOT NULL DEFAULT false,
    attempts       integer NOT NULL DEFAULT 1,
    first_seen     timestamptz NOT NULL DEFAULT now(),
    last_seen      timestamptz NOT NULL DEFAULT now(),
    resolved_at    timestamptz,
    UNIQUE (tenant_id, user_id, kind, direction, record_key, code)
);
CREATE INDEX sync_errors_recent ON sync_errors (tenant_id, last_seen DESC);

-- Every overwrite of target-only data and every conflict decision (LS-73).
CREATE TABLE audit_log (
    id         bigserial PRIMARY KEY,
    tenant_id  text NOT NULL,
    user_id    text NOT NULL,
    link_id    text,
    kind       text NOT NULL,
    action     text NOT NULL,
    field      text,
    old_value  jsonb,
    new_value  jsonb,
    policy     text,
    reason     text NOT NULL,
    at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_by_user ON audit_log (tenant_id, user_id, at DESC);

-- Latest connector/reconciler status per tenant, user (or '' for tenant-wide), side and object.
CREATE TABLE statuses (
    tenant_id        text NOT NULL,
    user_id          text NOT NULL DEFAULT '',
    side             text NOT NULL,
    object           text NOT NULL,
    state            text NOT NULL,
    detail           text,
    next_attempt_at  timestamptz,
    last_capture     jsonb NOT NULL DEFAULT '{}'::jsonb,
    counters         jsonb NOT NULL DEFAULT '{}'::jsonb,
    updated_at       timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, user_id, side, object)
);
"""

DOWNGRADE = """
DROP TABLE statuses; DROP TABLE audit_log; DROP TABLE sync_errors; DROP TABLE outbox;
DROP TABLE processed_offsets; DROP TABLE cursors; DROP TABLE links; DROP TABLE sync_users;
DROP TABLE connections; DROP TABLE tenants;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
