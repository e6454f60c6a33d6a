"""The API budget governor (issue 5 "API budget governor"; REST "Limit Info Header", C3/C11)."""

from __future__ import annotations

import datetime as dt

import pytest
from salesforce_connector.client import BudgetGovernor
from salesforce_connector.errors import QuotaExhausted


def test_governor_stops_at_its_share_and_resumes_after_the_pause() -> None:
    now = [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)]
    governor = BudgetGovernor(share=0.5, pause_s=600, clock=lambda: now[0])
    governor.observe("api-usage=499/1000")
    governor.before_call()
    governor.observe("api-usage=500/1000; per-app-api-usage=17/250(appName=x)")
    with pytest.raises(QuotaExhausted) as refused:
        governor.before_call()
    assert refused.value.resume_at == now[0] + dt.timedelta(seconds=600)
    now[0] += dt.timedelta(seconds=599)
    with pytest.raises(QuotaExhausted):
        governor.before_call()
    now[0] += dt.timedelta(seconds=2)
    governor.before_call()  # one probe call is allowed; its header decides what happens next
    assert governor.used_share == 0.5


def test_request_limit_exceeded_pauses_without_header() -> None:
    governor = BudgetGovernor(share=0.5, pause_s=60)
    governor.pause("REQUEST_LIMIT_EXCEEDED")
    with pytest.raises(QuotaExhausted) as refused:
        governor.before_call()
    assert refused.value.reason == "REQUEST_LIMIT_EXCEEDED"
