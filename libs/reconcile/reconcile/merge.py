"""Field-level three-way merge against the link's snapshot, and the conflict policy.

For each synced field of a change from side S: if S's value is what S held before, or what S is
supposed to hold, S did not change it. Otherwise S changed it; if S was at the same time behind
on that field (the other side changed it and our write to S has not landed), both sides changed
it and the configuration's policy picks the winner (LS-75 [I]). A side that is not a source of
the direction (one-way sync) never contributes: its edits are kept on it only until the next
source change (LS-73).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from syncmodel import Side

from reconcile.fields import Canonical
from reconcile.normalize import JsonValue
from reconcile.settings import ConflictPolicy

FIELD_UNITS: tuple[tuple[str, ...], ...] = (
    ("start", "end", "start_date", "end_date", "is_all_day", "time_zone"),
)
"""Fields merged as one value: taking a start from one side and an end from the other can
make an event that ends before it starts."""


def _units(names: set[str] | list[str]) -> list[tuple[str, ...]]:
    present = set(names)
    units: list[tuple[str, ...]] = []
    for unit in FIELD_UNITS:
        if present.intersection(unit):
            units.append(tuple(name for name in unit if name in present))
            present -= set(unit)
    units.extend((name,) for name in sorted(present))
    return units


def _get(content: Canonical, unit: tuple[str, ...]) -> JsonValue:
    return content.get(unit[0]) if len(unit) == 1 else [content.get(name) for name in unit]


def _put(content: Canonical, unit: tuple[str, ...], value: JsonValue) -> None:
    if len(unit) == 1:
        content[unit[0]] = value
    else:
        content.update(zip(unit, value, strict=True))


@dataclass(frozen=True)
class FieldConflict:
    field: str
    winner: Side
    winner_value: JsonValue
    loser_value: JsonValue


@dataclass(frozen=True)
class Merge:
    snapshot: Canonical
    accepted: tuple[str, ...] = ()
    conflicts: tuple[FieldConflict, ...] = ()
    target_edits: tuple[str, ...] = ()


def policy_winner(
    policy: ConflictPolicy,
    incoming: Side,
    incoming_ts: dt.datetime | None,
    other_ts: dt.datetime | None,
) -> Side:
    """Which side's value of a field changed on both sides wins."""
    if policy is ConflictPolicy.SALESFORCE_WINS:
        return Side.SALESFORCE
    if policy is ConflictPolicy.EXCHANGE_WINS:
        return Side.EXCHANGE
    # latest_wins: the later change; a tie or an unknown time goes to the incoming change.
    if incoming_ts is None or other_ts is None or incoming_ts >= other_ts:
        return incoming
    return incoming.other


def merge_change(
    *,
    snapshot: Canonical,
    previous: Canonical,
    current: Canonical,
    expected: Canonical,
    side: Side,
    is_source: bool,
    policy: ConflictPolicy,
    change_ts: dt.datetime | None,
    other_ts: dt.datetime | None,
) -> Merge:
    """Merge the content `current` now reported by `side` into `snapshot`.

    `previous` is what `side` held when last seen; `expected` is what `side` holds once every
    write we sent it has landed (the snapshot as `side` stores it, e.g. truncated).
    """
    merged = dict(snapshot)
    accepted: list[str] = []
    conflicts: list[FieldConflict] = []
    target_edits: list[str] = []
    for unit in _units(list(current)):
        name = "+".join(unit)
        now, before, wanted = _get(current, unit), _get(previous, unit), _get(expected, unit)
        if now in (before, wanted):
            continue
        if not is_source:
            target_edits.append(name)
            continue
        if before != wanted:
            winner = policy_winner(policy, side, change_ts, other_ts)
            kept = _get(snapshot, unit)
            conflicts.append(
                FieldConflict(
                    field=name,
                    winner=winner,
                    winner_value=now if winner is side else kept,
                    loser_value=kept if winner is side else now,
                )
            )
            if winner is not side:
                continue
        _put(merged, unit, now)
        accepted.append(name)
    return Merge(
        snapshot=merged,
        accepted=tuple(accepted),
        conflicts=tuple(conflicts),
        target_edits=tuple(target_edits),
    )


def merge_matched(
    *,
    incoming: Canonical,
    existing: Canonical,
    side: Side,
    source: Side | None,
    policy: ConflictPolicy,
    incoming_ts: dt.datetime | None,
    existing_ts: dt.datetime | None,
) -> Merge:
    """Content of a newly matched pair with no merge base (initial sync, reset, LS-71/72).

    One-way: the source's content wins outright. Both ways: a value only one side has fills the
    gap; values that differ go to the policy.
    """
    if source is not None:
        return Merge(snapshot=dict(incoming if source is side else existing))
    merged: Canonical = {}
    conflicts: list[FieldConflict] = []
    for unit in _units(list(incoming.keys() | existing.keys())):
        mine, theirs = _get(incoming, unit), _get(existing, unit)
        if mine == theirs or _empty(theirs):
            _put(merged, unit, mine)
        elif _empty(mine):
            _put(merged, unit, theirs)
        else:
            winner = policy_winner(policy, side, incoming_ts, existing_ts)
            value, lost = (mine, theirs) if winner is side else (theirs, mine)
            _put(merged, unit, value)
            conflicts.append(
                FieldConflict(
                    field="+".join(unit), winner=winner, winner_value=value, loser_value=lost
                )
            )
    return Merge(snapshot=merged, conflicts=tuple(conflicts))


def _empty(value: JsonValue) -> bool:
    if isinstance(value, list) and value and all(part is None for part in value):
        return True
    return value in (None, [], {})
