"""Control messages to the rest of Syncline (`syncline.control`), written through the outbox.

The message is inserted in the same transaction as the change that caused it; the outbox relay
publishes it. Keyed by tenant (ARCHITECTURE.md, "Bus").
"""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

from syncmodel import Kind
from syncmodel.messages import Control, ControlAction
from syncmodel.topics import CONTROL
from syncruntime.postgres.outbox import append


async def send_control(
    conn: Any,
    tenant_id: str,
    action: ControlAction,
    *,
    user_id: str | None = None,
    kind: Kind | None = None,
    message_id: str | None = None,
) -> str:
    message_id = message_id or f"control/{tenant_id}/{action.value}/{secrets.token_hex(8)}"
    message = Control(
        id=message_id,
        tenant=tenant_id,
        action=action,
        user=user_id,
        kind=kind,
        requested_ts=dt.datetime.now(dt.UTC),
    )
    await append(conn, message_id, CONTROL, tenant_id, message)
    return message_id
