"""Windows <-> IANA zones and DST-correct conversions, in zones from UTC-10 to UTC+13."""

from __future__ import annotations

import datetime as dt

import pytest
from reconcile.errors import UnknownTimeZone
from reconcile.timezones import (
    all_day_dates,
    all_day_to_graph,
    from_graph_datetime,
    from_salesforce_all_day,
    local_to_utc,
    to_graph_datetime,
    to_iana,
    to_salesforce_all_day,
    to_windows,
    utc_to_local,
)

ZONES = {
    # IANA id: (Windows name, UTC offset in January, UTC offset in July)
    "Pacific/Honolulu": ("Hawaiian Standard Time", -10.0, -10.0),
    "UTC": ("UTC", 0.0, 0.0),
    "Asia/Kolkata": ("India Standard Time", 5.5, 5.5),
    "Pacific/Auckland": ("New Zealand Standard Time", 13.0, 12.0),
    "Pacific/Tongatapu": ("Tonga Standard Time", 13.0, 13.0),
    "America/Los_Angeles": ("Pacific Standard Time", -8.0, -7.0),
}


@pytest.mark.parametrize("iana", sorted(ZONES))
def test_windows_and_iana_names_map_both_ways(iana: str) -> None:
    windows = ZONES[iana][0]
    assert to_windows(iana) == windows
    assert to_iana(windows) == iana


@pytest.mark.parametrize("iana", sorted(ZONES))
def test_graph_datetimes_convert_with_the_zones_dst_offset(iana: str) -> None:
    windows, january, july = ZONES[iana]
    for month, offset in ((1, january), (7, july)):
        local = dt.datetime(2026, month, 15, 9, 30)
        instant = from_graph_datetime(
            {"dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"), "timeZone": windows}
        )
        assert instant.utcoffset() == dt.timedelta(0)
        assert local - instant.replace(tzinfo=None) == dt.timedelta(hours=offset)
        assert to_graph_datetime(instant, iana) == {
            "dateTime": local.strftime("%Y-%m-%dT%H:%M:%S.0000000"),
            "timeZone": windows,
        }


def test_a_time_in_the_spring_forward_gap_moves_forward_by_the_gap() -> None:
    # 2026-09-27 02:30 does not exist in Auckland (clocks go 02:00 -> 03:00).
    instant = local_to_utc(dt.datetime(2026, 9, 27, 2, 30), "Pacific/Auckland")
    assert utc_to_local(instant, "Pacific/Auckland") == dt.datetime(2026, 9, 27, 3, 30)


def test_an_ambiguous_fall_back_time_takes_the_first_occurrence() -> None:
    instant = local_to_utc(dt.datetime(2026, 11, 1, 1, 30), "America/Los_Angeles")
    assert instant == dt.datetime(2026, 11, 1, 8, 30, tzinfo=dt.UTC)  # still PDT (UTC-7)


@pytest.mark.parametrize("iana", sorted(ZONES))
def test_all_day_events_keep_their_dates_in_every_zone(iana: str) -> None:
    start, end = dt.date(2026, 4, 5), dt.date(2026, 4, 6)
    graph_start, graph_end = all_day_to_graph(start, end, iana)
    assert graph_start["dateTime"].startswith("2026-04-05T00:00:00")
    # read back as naive midnights, and as instants (Prefer: outlook.timezone="UTC")
    naive = [dt.datetime.fromisoformat(v["dateTime"][:19]) for v in (graph_start, graph_end)]
    assert all_day_dates(naive[0], naive[1], iana) == (start, end)
    aware = [local_to_utc(value, iana) for value in naive]
    assert all_day_dates(aware[0], aware[1], iana) == (start, end)


def test_ls41_all_day_events_are_24_hours_per_day_in_salesforce() -> None:
    start, end = dt.date(2026, 4, 5), dt.date(2026, 4, 8)
    assert to_salesforce_all_day(start, end) == (start, 3 * 1440)
    assert from_salesforce_all_day(start, 3 * 1440) == (start, end)


def test_unknown_zone_is_a_clear_error() -> None:
    with pytest.raises(UnknownTimeZone):
        to_iana("Mars Standard Time")
