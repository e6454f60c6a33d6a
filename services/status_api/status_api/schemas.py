"""HTTP request and response bodies (pydantic). Secrets are write-only: no response has them."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    JsonValue,
    SecretStr,
    StringConstraints,
    model_validator,
)
from reconcile.settings import ConfigurationReason, SyncSettings

from status_api.decisions import DecisionReason
from status_api.error_codes import ErrorCategory
from status_api.security import Scope
from status_api.statuses import DirectionState, Health, LinkState, ResetState, StatusId

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._@+-]{0,127}$"
RECORD_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._=+-]{0,511}$"


def _printable(value: str) -> str:
    # Postgres text rejects NUL and lone surrogates; refuse them here with a 422, not a 500.
    if "\x00" in value or any("\ud800" <= ch <= "\udfff" for ch in value):
        raise ValueError("must not contain NUL characters or unpaired surrogates")
    return value


Identifier = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_printable)]
Text = Annotated[str, StringConstraints(max_length=2000), AfterValidator(_printable)]
Secret = Annotated[
    SecretStr, Field(min_length=1, max_length=16_384, json_schema_extra={"writeOnly": True})
]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Problem(BaseModel):
    """Every 4xx/5xx body: a machine code and a sentence for a human."""

    detail: str | list[dict[str, object]]
    code: str = "error"


# --- tenants and API keys -----------------------------------------------------------------


class TenantOut(BaseModel):
    id: str
    name: str
    created_at: dt.datetime


class TenantUpdate(Body):
    name: Name


class ApiKeyCreate(Body):
    name: Name
    scope: Scope = Scope.READ


class ApiKeyOut(BaseModel):
    key_id: str
    name: str
    scope: Scope
    created_at: dt.datetime
    last_used_at: dt.datetime | None
    revoked_at: dt.datetime | None


class ApiKeyIssued(ApiKeyOut):
    token: str = Field(description="The key itself. Shown once; only its hash is stored.")


# --- connections (spec §4) ----------------------------------------------------------------


class ConnectionKind(StrEnum):
    EXCHANGE_GRAPH = "exchange_graph"
    EXCHANGE_EWS = "exchange_ews"
    SALESFORCE = "salesforce"


class Certificate(Body):
    private_key_pem: Secret
    thumbprint: Annotated[str, StringConstraints(pattern=r"^[A-Fa-f0-9]{40,64}$")]


class ExchangeGraphConnection(Body):
    """Exchange Online through Graph with app-only OAuth 2.0 (LS-67): a secret or a certificate."""

    kind: Literal["exchange_graph"] = "exchange_graph"
    directory_tenant_id: Identifier
    client_id: Identifier
    authority_host: HttpUrl = HttpUrl("https://login.microsoftonline.com")
    graph_url: HttpUrl = HttpUrl("https://graph.microsoft.com/v1.0")
    client_secret: Secret | None = None
    certificate: Certificate | None = None

    @model_validator(mode="after")
    def _one_credential(self) -> ExchangeGraphConnection:
        if (self.client_secret is None) == (self.certificate is None):
            raise ValueError("give exactly one of client_secret or certificate")
        return self


class ExchangeEwsConnection(Body):
    """On-premises Exchange through EWS with an impersonating service account (LS-60..63)."""

    kind: Literal["exchange_ews"] = "exchange_ews"
    username: Name
    password: Secret
    ews_url: HttpUrl | None = Field(default=None, description="Null: use Autodiscover.")
    autodiscover: bool = True
    autodiscover_url: HttpUrl | None = Field(
        default=None,
        description="Autodiscover endpoint (…/autodiscover.svc or …/autodiscover.xml); null: "
        "derived from the mailbox's email domain.",
    )
    auth: Literal["basic", "ntlm"] = Field(
        default="basic", description="How the service account authenticates (LS-61)."
    )

    @model_validator(mode="after")
    def _url_or_autodiscover(self) -> ExchangeEwsConnection:
        if self.ews_url is None and not self.autodiscover:
            raise ValueError("give ews_url or enable autodiscover")
        return self


class SalesforceConnection(Body):
    """Salesforce through the OAuth 2.0 JWT bearer flow as an integration user."""

    kind: Literal["salesforce"] = "salesforce"
    login_url: HttpUrl = HttpUrl("https://login.salesforce.com")
    client_id: Annotated[str, StringConstraints(min_length=1, max_length=256)] = Field(
        pattern=r"^[A-Za-z0-9._=-]+$"
    )
    username: Name
    private_key_pem: Secret
    api_version: Annotated[str, StringConstraints(pattern=r"^v\d{2}\.\d$")] = "v62.0"


ConnectionIn = Annotated[
    ExchangeGraphConnection | ExchangeEwsConnection | SalesforceConnection,
    Field(discriminator="kind"),
]


class ConnectionOut(BaseModel):
    kind: ConnectionKind
    config: dict[str, str | bool | None] = Field(description="Non-secret settings.")
    secret_fields: list[str] = Field(description="Which secrets are stored (never their values).")
    secret_key_id: str | None = Field(description="Id of the key that encrypted the secrets.")
    created_at: dt.datetime
    updated_at: dt.datetime


# --- users and statuses (spec §6, §7) -----------------------------------------------------


class ObjectKind(StrEnum):
    CONTACT = "contact"
    EVENT = "event"


class SyncDirection(StrEnum):
    SALESFORCE_TO_EXCHANGE = "salesforce_to_exchange"
    EXCHANGE_TO_SALESFORCE = "exchange_to_salesforce"


class DirectionStatus(BaseModel):
    object: ObjectKind
    direction: SyncDirection
    state: DirectionState
    status_id: StatusId
    detail: str | None = None
    last_sync: dt.datetime | None = Field(description="ST-41: last successful pass.")
    next_attempt: dt.datetime | None = Field(
        default=None, description="When the connector retries after throttling or an error."
    )
    synced_today: int = Field(description="Items written on the target side since midnight UTC.")


class UserSummary(BaseModel):
    user_id: str
    email: str | None
    name: str | None
    profile_id: str | None
    is_active: bool
    mailbox: str | None
    link_state: LinkState
    link_status_id: StatusId
    link_detail: str | None
    assigned: bool
    configuration_id: str | None
    reset_in_progress: bool
    open_errors: int
    objects: list[DirectionStatus]
    updated_at: dt.datetime


class UserPage(BaseModel):
    items: list[UserSummary]
    next_cursor: str | None = Field(description="Pass as `cursor` to get the next page.")


class StatusRow(BaseModel):
    status_id: StatusId
    label: str
    value: str | int | float | bool | None
    health: Health
    meaning: str
    fix: str
    detail: str | None = None


class SystemStatus(BaseModel):
    tenant_id: str
    generated_at: dt.datetime
    rows: list[StatusRow]


class UserStatus(BaseModel):
    user: UserSummary
    rows: list[StatusRow]


# --- errors (LS-82) -------------------------------------------------------------------------


class SyncErrorOut(BaseModel):
    id: int
    user_id: str
    object: str
    direction: str
    record_key: str
    link_id: str | None
    exchange_id: str | None
    salesforce_id: str | None
    code: str
    category: ErrorCategory
    reason: str
    remediation: str
    retryable: bool
    attempts: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    resolved_at: dt.datetime | None


class ErrorPage(BaseModel):
    items: list[SyncErrorOut]
    next_before_id: int | None


# --- record explain ---------------------------------------------------------------------------


class Side(StrEnum):
    EXCHANGE = "exchange"
    SALESFORCE = "salesforce"


class RecordExplanation(BaseModel):
    link_id: str | None = Field(
        description="Null: the record was captured but is not linked; `last_decision` says why."
    )
    object: str
    exchange_id: str | None
    salesforce_id: str | None
    closed: bool
    last_decision: str | None = Field(description="The reconciler's reason, as recorded.")
    decision: DecisionReason | None = Field(description="The reason, when it is a known value.")
    last_decision_text: str | None
    exchange_version: JsonValue
    salesforce_version: JsonValue
    exchange_snapshot: JsonValue = Field(description="Last synced Exchange content (normalized).")
    salesforce_snapshot: JsonValue = Field(description="Last synced Salesforce content.")
    state: dict[str, JsonValue] = Field(description="The link's three-way state as recorded.")
    errors: list[SyncErrorOut]
    audit: list[dict[str, JsonValue]]
    updated_at: dt.datetime


# --- reset (LS-83) ----------------------------------------------------------------------------


class ResetCreate(Body):
    object: ObjectKind


class ResetOut(BaseModel):
    request_id: str
    user_id: str
    object: ObjectKind
    state: ResetState
    progress: dict[str, JsonValue]
    detail: str | None
    requested_at: dt.datetime
    updated_at: dt.datetime
    completed_at: dt.datetime | None


class CatalogEntry(BaseModel):
    value: str
    label: str
    meaning: str
    fix: str


# --- configurations and assignments (spec §3) ---------------------------------------------


class ConfigurationIn(Body):
    name: Name
    description: Text | None = None
    active: bool = False
    settings: SyncSettings = Field(default_factory=SyncSettings)


class ConfigurationOut(BaseModel):
    id: str
    name: str
    description: str | None
    active: bool
    settings: SyncSettings
    assigned_users: int
    assigned_profiles: int
    created_at: dt.datetime
    updated_at: dt.datetime


class PrincipalType(StrEnum):
    USER = "user"
    PROFILE = "profile"


class AssignmentOut(BaseModel):
    principal_type: PrincipalType
    principal_id: str
    configuration_id: str
    assigned_at: dt.datetime
    moved_from: str | None = Field(
        default=None, description="LS-53(a): the configuration this principal was moved from."
    )


_REASONS = {
    ConfigurationReason.INDIVIDUAL_ASSIGNMENT: "The user is assigned individually to an active "
    "configuration; individual assignment beats profile assignment (LS-53b).",
    ConfigurationReason.PROFILE_ASSIGNMENT: "The user's profile is assigned to an active "
    "configuration and the user has no active individual assignment.",
    ConfigurationReason.NOT_ASSIGNED: "Neither the user nor their profile is assigned (ST-21). "
    "Fix: assign one.",
    ConfigurationReason.ONLY_INACTIVE_ASSIGNED: "Only inactive configurations are assigned "
    "(ST-21). Fix: activate the configuration or assign an active one.",
    ConfigurationReason.SEVERAL_INDIVIDUAL_ASSIGNMENTS: "The user is individually assigned to "
    "several configurations; none applies. Fix: keep one.",
    ConfigurationReason.SEVERAL_PROFILE_CONFIGURATIONS: "Several active configurations reach "
    "the user through their profile; none is guessed. Fix: assign the user individually.",
}


def explain_reason(reason: ConfigurationReason) -> str:
    return _REASONS[reason]


class Candidate(BaseModel):
    configuration_id: str
    name: str
    active: bool
    via: PrincipalType
    applies: bool


class EffectiveConfiguration(BaseModel):
    user_id: str
    profile_id: str | None
    configuration: ConfigurationOut | None
    reason: ConfigurationReason = Field(
        description="Why this configuration applies (or none does):\n\n"
        + "\n".join(f"- `{r.value}`: {t}" for r, t in _REASONS.items())
    )
    explanation: str
    candidates: list[Candidate] = Field(description="Every configuration assigned to the user.")
