"""Windows ↔ IANA time-zone names (protocols.md A10), from CLDR's windowsZones table as
shipped in `tzlocal.windows_tz`. Graph speaks Windows names; our records and Salesforce IANA."""

from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tzlocal.windows_tz import tz_win, win_tz

_UTC_NAMES = {"utc", "etc/utc", "etc/gmt", "gmt", "coordinated universal time", "z"}


def to_iana(name: str | None, fallback: str = "UTC") -> str:
    """A Windows (or already IANA) zone name -> an IANA name zoneinfo can load."""
    if not name or name.lower() in _UTC_NAMES:
        return "UTC"
    candidate = win_tz.get(name, name)
    try:
        ZoneInfo(candidate)
    except (ZoneInfoNotFoundError, ValueError):
        # e.g. `tzone://Microsoft/Custom` (legacy custom zones, A4)
        return fallback
    return candidate


def to_windows(name: str | None) -> str:
    """An IANA (or already Windows) zone name -> the Windows name Exchange stores."""
    if not name or name.lower() in _UTC_NAMES:
        return "UTC"
    if name in win_tz:
        return name
    return tz_win.get(name, name)


def zone(name: str | None) -> ZoneInfo:
    return ZoneInfo(to_iana(name))
