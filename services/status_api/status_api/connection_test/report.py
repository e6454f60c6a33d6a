"""Request and report bodies of the connection test (LS-70)."""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, Field, StringConstraints

from status_api.connection_test.stages import StageReport
from status_api.schemas import Body, Identifier

EMAIL_PATTERN = r"^[A-Za-z0-9._%+'-]{1,64}@[A-Za-z0-9.-]{1,190}\.[A-Za-z]{2,24}$"


class TestedSystem(StrEnum):
    EXCHANGE = "exchange"
    SALESFORCE = "salesforce"


class ConnectionTestRequest(Body):
    mailbox: Annotated[str, StringConstraints(pattern=EMAIL_PATTERN)] | None = Field(
        default=None, description="Mailbox to probe; defaults to the user's mailbox or email."
    )
    user_id: Identifier | None = Field(default=None, description="The rep (Salesforce user id).")
    systems: list[TestedSystem] = Field(
        default_factory=lambda: [TestedSystem.EXCHANGE, TestedSystem.SALESFORCE],
        min_length=1,
        max_length=2,
    )


class ConnectionTestReport(BaseModel):
    mailbox: str | None
    user_id: str | None
    passed: bool = Field(description="True when no stage failed.")
    stages: list[StageReport]
    started_at: dt.datetime
