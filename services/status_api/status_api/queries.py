"""SQL of the status API, in one place so the schema it relies on is easy to review."""
# ruff: noqa: S608 - composed only from module constants; every value is a bind parameter.

from __future__ import annotations

API_KEYS = """
SELECT key_id, name, scope, created_at, last_used_at, revoked_at
FROM api_keys WHERE tenant_id = $1 ORDER BY created_at, key_id
"""

_CONNECTION_COLUMNS = "kind, config, secret_key_id, created_at, updated_at"

CONNECTIONS = f"SELECT {_CONNECTION_COLUMNS} FROM connections WHERE tenant_id = $1 ORDER BY kind"

CONNECTION = f"SELECT {_CONNECTION_COLUMNS} FROM connections WHERE tenant_id = $1 AND kind = $2"

UPSERT_CONNECTION = f"""
INSERT INTO connections (tenant_id, kind, config, secret_ciphertext, secret_key_id)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant_id, kind) DO UPDATE SET
    config = EXCLUDED.config,
    secret_ciphertext = EXCLUDED.secret_ciphertext,
    secret_key_id = EXCLUDED.secret_key_id,
    updated_at = now()
RETURNING {_CONNECTION_COLUMNS}
"""

# --- users ----------------------------------------------------------------------------------

USERS = """
SELECT u.user_id, u.email, u.name, u.profile_id, u.is_active, u.mailbox, u.link_state,
       u.link_reason, u.updated_at,
       (SELECT count(*) FROM sync_errors e
         WHERE e.tenant_id = u.tenant_id AND e.user_id = u.user_id AND e.resolved_at IS NULL)
         AS open_errors,
       EXISTS (SELECT 1 FROM reset_requests r
         WHERE r.tenant_id = u.tenant_id AND r.user_id = u.user_id
           AND r.state IN ('queued', 'in_progress')) AS reset_in_progress
FROM sync_users u
WHERE u.tenant_id = $1
  AND ($2::text IS NULL OR u.user_id > $2)
  AND ($3::text IS NULL OR u.link_state = $3)
  AND ($4::text IS NULL OR lower(u.email) LIKE '%' || lower($4) || '%'
                        OR lower(u.name) LIKE '%' || lower($4) || '%')
  AND ($5::text IS NULL OR u.profile_id = $5)
  AND ($6::boolean IS NULL OR u.is_active = $6)
ORDER BY u.user_id
"""

USER = """
SELECT u.user_id, u.email, u.name, u.profile_id, u.is_active, u.mailbox, u.link_state,
       u.link_reason, u.updated_at,
       (SELECT count(*) FROM sync_errors e
         WHERE e.tenant_id = u.tenant_id AND e.user_id = u.user_id AND e.resolved_at IS NULL)
         AS open_errors,
       EXISTS (SELECT 1 FROM reset_requests r
         WHERE r.tenant_id = u.tenant_id AND r.user_id = u.user_id
           AND r.state IN ('queued', 'in_progress')) AS reset_in_progress
FROM sync_users u WHERE u.tenant_id = $1 AND u.user_id = $2
"""

USER_STATUSES = """
SELECT user_id, side, object, state, detail, next_attempt_at, last_capture, counters, updated_at
FROM statuses WHERE tenant_id = $1 AND user_id = ANY($2::text[])
"""

TENANT_STATUSES = """
SELECT user_id, side, object, state, detail, next_attempt_at, last_capture, counters, updated_at
FROM statuses WHERE tenant_id = $1
"""

ASSIGNMENTS = """
SELECT a.principal_type, a.principal_id, a.configuration_id, c.name, c.active, c.settings
FROM assignments a JOIN configurations c USING (tenant_id, configuration_id)
WHERE a.tenant_id = $1
"""

# --- errors ---------------------------------------------------------------------------------

ERRORS = """
SELECT id, user_id, kind, direction, record_key, link_id, exchange_id, salesforce_id, code,
       reason, remediation, retryable, attempts, first_seen, last_seen, resolved_at
FROM sync_errors
WHERE tenant_id = $1
  AND ($2::text IS NULL OR user_id = $2)
  AND ($3::text IS NULL OR kind = $3)
  AND ($4::text IS NULL OR direction = $4)
  AND ($5::timestamptz IS NULL OR last_seen >= $5)
  AND ($6::timestamptz IS NULL OR last_seen < $6)
  AND ($7::boolean OR resolved_at IS NULL)
  AND ($8::bigint IS NULL OR id < $8)
ORDER BY id DESC
LIMIT $9
"""

# --- record explain -------------------------------------------------------------------------

LINK_BY_RECORD = """
SELECT link_id, kind, exchange_id, salesforce_id, state, closed, last_reason, updated_at
FROM links
WHERE tenant_id = $1 AND user_id = $2
  AND (CASE WHEN $3 = 'exchange' THEN exchange_id ELSE salesforce_id END) = $4
  AND ($5::text IS NULL OR kind = $5)
ORDER BY closed, updated_at DESC
LIMIT 1
"""

SEEN_BY_RECORD = """
SELECT kind, record_id, change, deferred, last_reason, updated_at
FROM seen_records
WHERE tenant_id = $1 AND user_id = $2 AND side = $3 AND record_id = $4
  AND ($5::text IS NULL OR kind = $5)
ORDER BY updated_at DESC
LIMIT 1
"""

LINK_ERRORS = """
SELECT id, user_id, kind, direction, record_key, link_id, exchange_id, salesforce_id, code,
       reason, remediation, retryable, attempts, first_seen, last_seen, resolved_at
FROM sync_errors
WHERE tenant_id = $1 AND user_id = $2
  AND (link_id = $3 OR exchange_id = $4 OR salesforce_id = $5)
ORDER BY last_seen DESC LIMIT 50
"""

LINK_AUDIT = """
SELECT action, field, old_value, new_value, policy, reason, at
FROM audit_log WHERE tenant_id = $1 AND user_id = $2 AND link_id = $3
ORDER BY at DESC LIMIT 50
"""

# --- resets ---------------------------------------------------------------------------------

# A reset is done when both connectors re-finished their initial snapshot of the user after
# the reconciler dropped the links (it deletes the user's sync_barriers in that transaction and
# stamps `updated_at`; each side's INITIAL_SYNC_COMPLETED re-inserts its barrier).
_RESNAPSHOTTED = """
ARRAY(SELECT b.side FROM sync_barriers b
      WHERE b.tenant_id = r.tenant_id AND b.user_id = r.user_id
        AND b.completed_at >= r.updated_at ORDER BY b.side)
"""

_RESET_COLUMNS = f"""
r.request_id, r.user_id, r.kind, r.state, r.progress, r.detail, r.requested_at, r.updated_at,
r.completed_at, (o.message_id IS NULL OR o.sent_at IS NOT NULL) AS dispatched,
{_RESNAPSHOTTED} AS resnapshotted
"""

SETTLE_RESETS = f"""
UPDATE reset_requests r SET state = 'completed', completed_at = now()
WHERE r.tenant_id = $1 AND r.user_id = $2 AND r.state = 'in_progress'
  AND cardinality({_RESNAPSHOTTED}) >= 2
"""

RESETS = f"""
SELECT {_RESET_COLUMNS}
FROM reset_requests r LEFT JOIN outbox o ON o.message_id = r.message_id
WHERE r.tenant_id = $1 AND r.user_id = $2 ORDER BY r.requested_at DESC LIMIT 50
"""

RESET = f"""
SELECT {_RESET_COLUMNS}
FROM reset_requests r LEFT JOIN outbox o ON o.message_id = r.message_id
WHERE r.tenant_id = $1 AND r.user_id = $2 AND r.request_id = $3
"""

OPEN_RESET = f"""
SELECT {_RESET_COLUMNS}
FROM reset_requests r LEFT JOIN outbox o ON o.message_id = r.message_id
WHERE r.tenant_id = $1 AND r.user_id = $2 AND r.kind = $3 AND r.state IN ('queued', 'in_progress')
"""

INSERT_RESET = """
INSERT INTO reset_requests (request_id, tenant_id, user_id, kind, message_id)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (tenant_id, user_id, kind) WHERE state IN ('queued', 'in_progress') DO NOTHING
RETURNING request_id
"""
