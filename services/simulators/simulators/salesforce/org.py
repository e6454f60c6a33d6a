"""One simulated org: its records, sessions, API usage and fault control, plus request context."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from simulators.salesforce.auth import Session, Sessions
from simulators.salesforce.errors import ApiError
from simulators.salesforce.limits import ApiUsage
from simulators.salesforce.store import Store

API_VERSIONS = [f"{v}.0" for v in range(31, 69)]
_VERSION = re.compile(r"^\d{2}\.0$")


@dataclass
class Org:
    store: Store = field(default_factory=Store)
    usage: ApiUsage = field(default_factory=ApiUsage)
    sessions: Sessions = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = Sessions(self.store)
        self.usage.allocation = self.store.settings.daily_api_allocation


@dataclass(frozen=True)
class Result:
    """A REST answer shared by the routes and the Composite dispatcher."""

    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class ApiContext:
    org: Org
    session: Session
    version: str

    @property
    def actor(self) -> str:
        return self.session.user_id

    @property
    def version_number(self) -> float:
        return float(self.version)


def check_version(version: str) -> str:
    """`vXX.X` in the path; retired versions answer 410, unknown ones 404 (C1)."""
    number = version[1:] if version.startswith("v") else version
    if not _VERSION.match(number):
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    if float(number) < 31.0:
        raise ApiError(410, "API_VERSION_RETIRED", f"Version {number} is retired")
    if number not in API_VERSIONS:
        raise ApiError(404, "NOT_FOUND", "The requested resource does not exist")
    return number
