"""The benchmark's own arithmetic: percentiles, the initial-sync floors, the counter labels of
the benchmark's own calls (which must match the simulators' route templates to be subtracted)."""

from __future__ import annotations

from bench.initial_sync import Expected, Scale, floors
from bench.latency import percentiles
from bench.system import diff, endpoint
from bench.whole_system import _reads, _writes


def test_percentiles_of_a_known_spread() -> None:
    values = [float(n) for n in range(1, 101)]
    q = percentiles(values)
    assert q["p50"] == 50.5
    assert q["p95"] == 95.05
    assert q["p99"] == 99.01
    assert q["n"] == 100


def test_percentiles_refuse_to_invent_from_too_few_samples() -> None:
    assert percentiles([1.0]) == {"p50": None, "p95": None, "p99": None, "n": 1}


def test_floors_count_one_way_writes_and_pages_ls31() -> None:
    scale = Scale(
        reps=2,
        salesforce_contacts=10,
        outlook_contacts=10,
        shared_contacts=4,
        salesforce_events=5,
        outlook_events=5,
        shared_events=1,
    )
    f = floors(scale, page_size=10, expected=Expected())
    # Salesforce-only events predate sync and stay out of Outlook (LS-31): contacts only.
    assert f["records_written_to_outlook"] == 2 * 6
    assert f["records_written_to_salesforce"] == 2 * (6 + 4)
    assert f["graph_delta_pages"] == 2 * (1 + 1)
    assert f["graph_floor"] == 12 + 4
    # Matched contacts the merge enriches (LS-71) are written items as well.
    enriched = floors(scale, page_size=10, expected=Expected(outlook_enriched=8))
    assert enriched["records_written_to_outlook"] == 2 * 6 + 8
    assert enriched["graph_floor"] == 12 + 8 + 4
    assert f["salesforce_floor"] == 1 + 1 + 1 + 1  # one write batch, three read pages


def test_own_calls_are_labelled_like_the_simulators_count_them() -> None:
    assert (
        endpoint("POST", "/v1.0/users/rep1@x.example/contactFolders/AAMk=/contacts")
        == "POST /v1.0/users/{user_id}/contactFolders/{folder_id}/contacts"
    )
    assert (
        endpoint("POST", "/services/data/v62.0/sobjects/Contact")
        == "POST /services/data/{version}/sobjects/{type_name}"
    )
    assert endpoint("GET", "/services/data/v62.0/query") == "GET /services/data/{version}/query"


def test_counter_arithmetic() -> None:
    after = {"GET /a": 5, "PATCH /b": 2, "POST /services/oauth2/token": 1}
    assert diff(after, {"GET /a": 5, "PATCH /b": 1}) == {
        "PATCH /b": 1,
        "POST /services/oauth2/token": 1,
    }
    assert _writes(after) == 2
    assert _reads(after) == 5
