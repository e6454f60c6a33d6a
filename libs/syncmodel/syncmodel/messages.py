"""Bus messages: one JSON envelope per message, versioned by its `schema` field.

`ChangeEvent` follows Debezium's envelope (before/after/op/source_ts): every message says where it
came from, what happened and when. Change events, command outcomes and connector statuses share the
`syncline.changes` topic and are told apart by `schema`.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from syncmodel.kinds import Direction, Kind, Op, Side
from syncmodel.records import Record


class _Message(BaseModel):
    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
    )

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True, exclude_none=False).encode()


def bus_key(tenant: str, user: str) -> str:
    """The Kafka key of everything about one user: all of a user's traffic shares a partition."""
    return f"{tenant}/{user}"


def change_event_id(side: Side, record_id: str, version: str | None) -> str:
    """Deterministic id, so a replayed capture is recognized as the same change."""
    return f"{side.value}/{record_id}/{version or '-'}"


class ChangeEvent(_Message):
    schema_: Literal["syncline.change/1"] = Field(default="syncline.change/1", alias="schema")
    id: str
    tenant: str
    user: str
    side: Side
    kind: Kind
    op: Op
    record_id: str
    version: str | None = None
    before: Record | None = None
    after: Record | None = None
    source_ts: AwareDatetime | None = None
    captured_ts: AwareDatetime
    cause: str | None = Field(
        default=None,
        description="Why this was captured: a command id for an echo of our write, "
        "'snapshot', 'reset', 'rebaseline', or null for an ordinary change.",
    )


class CommandAction(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"


class Command(_Message):
    """An instruction from the reconciler to one connector. `id` is stable across retries."""

    schema_: Literal["syncline.command/1"] = Field(default="syncline.command/1", alias="schema")
    id: str
    tenant: str
    user: str
    side: Side
    kind: Kind
    action: CommandAction
    link_id: str
    record_id: str | None = Field(default=None, description="Target id (update/delete).")
    if_version: str | None = Field(
        default=None, description="Apply only if the target is still at this version."
    )
    record: Record | None = None
    changed_fields: tuple[str, ...] = ()
    notify_attendees: bool = Field(
        default=False, description="Whether Exchange may send invitations/cancellations."
    )
    mailbox: str | None = None
    issued_ts: AwareDatetime


class OutcomeStatus(StrEnum):
    APPLIED = "applied"
    CONFLICT = "conflict"
    FAILED = "failed"


class ErrorScope(StrEnum):
    RECORD = "record"
    MAILBOX = "mailbox"
    USER = "user"
    TENANT = "tenant"


class SyncError(BaseModel):
    """A classified remote or validation error, with a reason a human can act on."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    code: str
    message: str
    retryable: bool = False
    scope: ErrorScope = ErrorScope.RECORD
    remediation: str | None = None
    retry_after_s: float | None = None


class CommandOutcome(_Message):
    schema_: Literal["syncline.outcome/1"] = Field(default="syncline.outcome/1", alias="schema")
    id: str
    command_id: str
    tenant: str
    user: str
    side: Side
    kind: Kind
    link_id: str
    status: OutcomeStatus
    record_id: str | None = None
    version: str | None = None
    record: Record | None = Field(
        default=None, description="The record as written, so the echo can be recognized."
    )
    error: SyncError | None = None
    applied_ts: AwareDatetime

    @classmethod
    def of(
        cls,
        command: Command,
        *,
        outcome_id: str,
        status: OutcomeStatus,
        applied_ts: dt.datetime,
        record_id: str | None = None,
        version: str | None = None,
        record: Record | None = None,
        error: SyncError | None = None,
    ) -> CommandOutcome:
        """The outcome of `command` (its id, tenant, user, side, kind and link), with what
        became of it."""
        return cls(
            id=outcome_id,
            command_id=command.id,
            tenant=command.tenant,
            user=command.user,
            side=command.side,
            kind=command.kind,
            link_id=command.link_id,
            status=status,
            record_id=record_id,
            version=version,
            record=record,
            error=error,
            applied_ts=applied_ts,
        )


class ConnectorState(StrEnum):
    CONNECTED = "connected"
    TOKEN_FAILURE = "token_failure"
    CONSENT_MISSING = "consent_missing"
    MAILBOX_NOT_FOUND = "mailbox_not_found"
    ACCESS_DENIED = "access_denied"
    CLAIMED_BY_OTHER_TENANT = "claimed_by_other_tenant"
    THROTTLED = "throttled"
    QUOTA_EXHAUSTED = "quota_exhausted"
    INITIAL_SYNC_IN_PROGRESS = "initial_sync_in_progress"
    INITIAL_SYNC_COMPLETED = "initial_sync_completed"
    ERROR = "error"


class ConnectorStatus(_Message):
    schema_: Literal["syncline.status/1"] = Field(default="syncline.status/1", alias="schema")
    tenant: str
    user: str | None = Field(default=None, description="Null for a tenant-wide status.")
    side: Side
    state: ConnectorState
    detail: str | None = None
    next_attempt_ts: AwareDatetime | None = None
    last_capture: dict[Kind, AwareDatetime] = Field(default_factory=dict)
    api_budget_used: float | None = Field(default=None, description="Share of the API budget.")
    ts: AwareDatetime


class ControlAction(StrEnum):
    RESET_SYNC = "reset_sync"
    RESYNC = "resync"
    CONFIGURATION_CHANGED = "configuration_changed"
    RELEASE_CLAIM = "release_claim"


class Control(_Message):
    schema_: Literal["syncline.control/1"] = Field(default="syncline.control/1", alias="schema")
    id: str
    tenant: str
    action: ControlAction
    user: str | None = None
    kind: Kind | None = None
    requested_ts: AwareDatetime


class RosterEntry(_Message):
    """Who syncs what: the reconciler's answer, followed by the connectors (compacted topic)."""

    schema_: Literal["syncline.roster/1"] = Field(default="syncline.roster/1", alias="schema")
    tenant: str
    user: str
    email: str
    mailbox: str | None
    active: bool
    contacts: Direction = Direction.NONE
    events: Direction = Direction.NONE
    contact_filter: Literal["my_records", "all_accessible"] = "my_records"
    time_zone: str | None = None
    settings_digest: str
    ts: AwareDatetime


class DeadLetter(_Message):
    schema_: Literal["syncline.dlq/1"] = Field(default="syncline.dlq/1", alias="schema")
    topic: str
    partition: int
    offset: int
    key: str | None
    value: str = Field(description="The original value, UTF-8 (invalid bytes replaced).")
    error: str
    consumer: str
    ts: AwareDatetime


ChangesMessage = Annotated[
    ChangeEvent | CommandOutcome | ConnectorStatus, Field(discriminator="schema_")
]

ALL_MESSAGES: dict[str, type[_Message]] = {
    "change_event": ChangeEvent,
    "command": Command,
    "command_outcome": CommandOutcome,
    "connector_status": ConnectorStatus,
    "control": Control,
    "roster_entry": RosterEntry,
    "dead_letter": DeadLetter,
}


def dump(message: _Message) -> dict[str, Any]:
    return message.model_dump(mode="json", by_alias=True)
