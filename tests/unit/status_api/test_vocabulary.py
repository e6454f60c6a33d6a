"""Every status, error category, stage and decision reason is an enumerated value documented in
the OpenAPI schema with its meaning (spec §7: the ST-n table at minimum)."""

from __future__ import annotations

from enum import StrEnum

import pytest
from reconcile.decision import Reason
from status_api.connection_test.stages import StageId, StageOutcome
from status_api.decisions import DecisionReason, explain
from status_api.error_codes import ErrorCategory, categorize
from status_api.main import create_app
from status_api.settings import StatusApiSettings
from status_api.statuses import DirectionState, Health, LinkState, ResetState, StatusId

SCHEMA = create_app(StatusApiSettings()).openapi()
DOCUMENTED: list[type[StrEnum]] = [
    StatusId,
    Health,
    LinkState,
    DirectionState,
    ResetState,
    ErrorCategory,
    StageId,
    StageOutcome,
    DecisionReason,
]


def test_spec_section_7_status_ids_are_all_enumerated() -> None:
    spec_ids = {f"ST-{n}" for n in [*range(1, 7), *range(10, 16), 20, 21, 22, *range(30, 42)]}
    assert spec_ids <= {s.value for s in StatusId}


@pytest.mark.parametrize("enum", DOCUMENTED, ids=lambda e: e.__name__)
def test_enum_is_documented_in_the_openapi_schema(enum: type[StrEnum]) -> None:
    component = SCHEMA["components"]["schemas"][enum.__name__]
    assert component["enum"] == [m.value for m in enum]
    described = component["x-enum-descriptions"]
    assert set(described) == {m.value for m in enum}
    assert all(d["meaning"] for d in described.values())
    for member in enum:
        assert f"`{member.value}`" in component["description"]


def test_decision_reasons_mirror_the_reconcile_core() -> None:
    assert {r.value for r in DecisionReason} == {r.value for r in Reason}


def test_unknown_decision_reason_is_still_explained() -> None:
    assert explain("private_not_synced")[0] is DecisionReason.PRIVATE_NOT_SYNCED
    assert explain("some_new_reason") == (None, "Some new reason")
    assert explain(None) == (None, None)


@pytest.mark.parametrize(
    ("code", "category"),
    [
        ("REQUIRED_FIELD_MISSING", ErrorCategory.VALIDATION_FAILED),
        ("FIELD_CUSTOM_VALIDATION_EXCEPTION", ErrorCategory.VALIDATION_FAILED),
        ("ErrorAccessDenied", ErrorCategory.ACCESS_DENIED),
        ("REQUEST_LIMIT_EXCEEDED", ErrorCategory.THROTTLED),
        ("ApplicationThrottled", ErrorCategory.THROTTLED),
        ("INSUFFICIENT_ACCESS_OR_READONLY", ErrorCategory.SALESFORCE_PERMISSION),
        ("duplicate_email", ErrorCategory.DUPLICATE_EMAIL),
        ("something_else", ErrorCategory.OTHER),
    ],
)
def test_raw_error_codes_are_categorized(code: str, category: ErrorCategory) -> None:
    assert categorize(code) is category
