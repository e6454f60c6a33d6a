"""Normalization, fingerprints, matching rules and Salesforce field limits."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from reconcile import VOLATILE_FIELDS, Candidate, MatchRule, fingerprint, match_contact
from reconcile.errors import MappingError
from reconcile.fields import (
    check_salesforce_record,
    effective_mappings,
    fit_for_salesforce,
    to_canonical,
)
from reconcile.match import match_event
from syncmodel import Attendee, Contact, Kind, Response, Side

from tests.unit.reconcile.builders import ANN, SF, meeting


def test_every_volatile_field_says_why() -> None:
    assert VOLATILE_FIELDS
    assert all(len(reason) > 20 for reason in VOLATILE_FIELDS.values())


def test_fingerprint_ignores_formatting_case_and_order() -> None:
    messy = meeting(
        subject="  QBR ",
        categories=("b", "A", "a"),
        attendees=(Attendee(email="Y@x.example"), Attendee(email="x@x.example")),
        body="<html><body><p>Agenda</p></body></html>",
        marker="lnk_1",
    )
    tidy = meeting(
        subject="QBR",
        categories=("a", "b"),
        attendees=(Attendee(email="x@x.example"), Attendee(email="y@x.example")),
        body="Agenda",
    )
    assert fingerprint(messy) == fingerprint(tidy)


def test_fingerprint_ignores_attendee_responses() -> None:
    invited = meeting(attendees=(Attendee(email="x@x.example"),))
    accepted = meeting(attendees=(Attendee(email="x@x.example", response=Response.ACCEPTED),))
    assert fingerprint(invited) == fingerprint(accepted)


def test_fingerprint_is_the_same_instant_in_any_zone() -> None:
    berlin = zoneinfo.ZoneInfo("Europe/Berlin")
    local = meeting(
        start=dt.datetime(2026, 3, 3, 10, 0, tzinfo=berlin),
        end=dt.datetime(2026, 3, 3, 11, 0, tzinfo=berlin),
    )
    assert fingerprint(local) == fingerprint(meeting())


def test_fingerprint_changes_with_content() -> None:
    assert fingerprint(ANN) != fingerprint(ANN.model_copy(update={"title": "CEO"}))


def test_ls71_contact_matches_on_email_case_insensitively() -> None:
    found = match_contact(
        ANN,
        [Candidate(side=SF, record_id="sf1", record=Contact(email="ANN@ACME.example"))],
    )
    assert found.rule is MatchRule.EMAIL
    assert found.candidate is not None


def test_ls71_contact_matches_on_first_last_company_without_email() -> None:
    same_person = Contact(first_name="ann", last_name="LEE", company="Acme")
    other_company = Contact(first_name="Ann", last_name="Lee", company="Globex")
    found = match_contact(
        ANN.model_copy(update={"email": None}),
        [
            Candidate(side=SF, record_id="sf2", record=other_company),
            Candidate(side=SF, record_id="sf1", record=same_person),
        ],
    )
    assert found.rule is MatchRule.NAME_AND_COMPANY
    assert found.candidate is not None
    assert found.candidate.record_id == "sf1"


def test_ls72_all_day_events_match_on_dates() -> None:
    day = meeting(
        is_all_day=True,
        start=None,
        end=None,
        start_date=dt.date(2026, 3, 3),
        end_date=dt.date(2026, 3, 4),
    )
    found = match_event(day, [Candidate(side=SF, record_id="sf1", record=day)])
    assert found.rule is MatchRule.SUBJECT_START_END


def test_salesforce_truncation_is_recorded() -> None:
    long_title = ANN.model_copy(update={"title": "x" * 200})
    canonical = to_canonical(long_title, Side.EXCHANGE, effective_mappings(Kind.CONTACT))
    fitted, notes = fit_for_salesforce(canonical, Kind.CONTACT)
    assert fitted["title"] == "x" * 128
    assert [(n.field, n.max_length, n.original_length) for n in notes] == [("title", 128, 200)]


def test_an_email_too_long_for_salesforce_is_a_mapping_error_not_a_cut() -> None:
    canonical = {"email": "a" * 90 + "@x.example", "last_name": "Lee"}
    with pytest.raises(MappingError) as raised:
        fit_for_salesforce(canonical, Kind.CONTACT)
    assert raised.value.code == "field_too_long"


def test_salesforce_contacts_need_a_last_name() -> None:
    with pytest.raises(MappingError) as raised:
        check_salesforce_record({"first_name": "Ann", "last_name": None}, Kind.CONTACT)
    assert raised.value.code == "missing_required_field"


def test_salesforce_rejects_events_longer_than_14_days() -> None:
    long = {"start": "2026-03-01T09:00:00+00:00", "end": "2026-03-20T09:00:00+00:00"}
    with pytest.raises(MappingError) as raised:
        check_salesforce_record(long, Kind.EVENT)
    assert raised.value.code == "event_too_long"


def test_ls29_remapped_field_is_read_from_its_exchange_field() -> None:
    remapped = effective_mappings(
        Kind.CONTACT, {"home_phone": "other_phone", "other_phone": "home_phone"}
    )
    exchange = ANN.model_copy(update={"other_phone": "+1 555", "home_phone": "+1 999"})
    canonical = to_canonical(exchange, Side.EXCHANGE, remapped)
    assert (canonical["home_phone"], canonical["other_phone"]) == ("+1 555", "+1 999")
