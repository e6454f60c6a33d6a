"""Status API tables: API keys, configurations, assignments, reset requests.

Revision ID: 0100
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0100"
down_revision = "0001"
branch_labels = None
depends_on = None

UPGRADE = """
-- Per-tenant API keys. Only a SHA-256 of the (high-entropy) key is stored; the key itself is
-- shown once at creation. Revoked keys stay for the audit trail.
CREATE TABLE api_keys (
    key_id        text PRIMARY KEY,
    tenant_id     text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    name          text NOT NULL,
    scope         text NOT NULL CHECK (scope IN ('read', 'admin')),
    key_hash      bytea NOT NULL UNIQUE,
    created_at    timestamptz NOT NULL DEFAULT now(),
    last_used_at  timestamptz,
    revoked_at    timestamptz
);
CREATE INDEX api_keys_by_tenant ON api_keys (tenant_id, created_at);

-- Named, assignable sets of sync settings (LS-50..LS-52). `settings` is a SyncSettings document.
CREATE TABLE configurations (
    tenant_id       text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    configuration_id text NOT NULL,
    name            text NOT NULL,
    description     text,
    active          boolean NOT NULL DEFAULT false,
    settings        jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, configuration_id),
    UNIQUE (tenant_id, name)
);

-- LS-53: a user or a profile is assigned to at most one configuration; assigning it to another
-- moves it (individual assignment beats profile assignment when resolving).
CREATE TABLE assignments (
    tenant_id        text NOT NULL,
    principal_type   text NOT NULL CHECK (principal_type IN ('user', 'profile')),
    principal_id     text NOT NULL,
    configuration_id text NOT NULL,
    assigned_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, principal_type, principal_id),
    FOREIGN KEY (tenant_id, configuration_id)
        REFERENCES configurations (tenant_id, configuration_id) ON DELETE CASCADE
);
CREATE INDEX assignments_by_configuration ON assignments (tenant_id, configuration_id);

-- LS-83 reset requests. The status API inserts one and a syncline.control message in the same
-- transaction; consumers move `state` on and fill `progress` ({"done": n, "total": m, ...}).
CREATE TABLE reset_requests (
    request_id    text PRIMARY KEY,
    tenant_id     text NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    user_id       text NOT NULL,
    kind          text NOT NULL CHECK (kind IN ('contact', 'event')),
    state         text NOT NULL DEFAULT 'queued'
                  CHECK (state IN ('queued', 'in_progress', 'completed', 'failed')),
    message_id    text NOT NULL,
    progress      jsonb NOT NULL DEFAULT '{}'::jsonb,
    detail        text,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now(),
    completed_at  timestamptz
);
-- Idempotency: at most one unfinished reset per user and object.
CREATE UNIQUE INDEX reset_requests_open ON reset_requests (tenant_id, user_id, kind)
    WHERE state IN ('queued', 'in_progress');
CREATE INDEX reset_requests_by_user ON reset_requests (tenant_id, user_id, requested_at DESC);
"""

DOWNGRADE = """
DROP TABLE reset_requests; DROP TABLE assignments; DROP TABLE configurations; DROP TABLE api_keys;
"""


def upgrade() -> None:
    op.execute(UPGRADE)


def downgrade() -> None:
    op.execute(DOWNGRADE)
