"""Runs a parsed SOQL query against the store and pages the result (REST "Query", C4).

Results carry `totalSize`, `done`, `records` and, while more remain, a host-relative
`nextRecordsUrl` of the form `/services/data/vXX.X/query/{locator}-{offset}`.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from simulators.salesforce import soql
from simulators.salesforce.errors import ApiError
from simulators.salesforce.schema import canonical_id, object_of_id
from simulators.salesforce.store import Record, Store, to_json_value


def _value(store: Store, rec: Record, path: soql.FieldPath) -> Any:
    if path.relationship is None:
        return rec.get(path.field.name)
    ref = rec.get(path.relationship.name)
    target = store.find(ref) if ref else None
    if target is None:
        return None
    return target.get(path.field.name)


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return value.lower()
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(), dt.UTC)
    return value


def _literal_norm(value: Any, path: soql.FieldPath) -> Any:
    if isinstance(value, str) and path.field.type in ("id", "reference"):
        id18 = canonical_id(value)
        return (id18 or value).lower()
    return _norm(value)


_IN_SETS: dict[int, tuple[soql.Comparison, frozenset[Any]]] = {}


def _literal_set(cond: soql.Comparison) -> frozenset[Any]:
    """An IN list normalized once per parsed query, not once per row (a snapshot of 100 users'
    records is an IN of 100 ids over the whole object). Keyed by the condition object itself."""
    cached = _IN_SETS.get(id(cond))
    if cached is not None and cached[0] is cond:
        return cached[1]
    assert isinstance(cond.value, tuple)
    values = frozenset(_literal_norm(v, cond.path) for v in cond.value)
    if len(_IN_SETS) >= 256:
        _IN_SETS.clear()
    _IN_SETS[id(cond)] = (cond, values)
    return values


def _compare(op: str, left: Any, right: Any) -> bool:
    if isinstance(right, soql.DateRange):
        if left is None:
            return op == "!="
        inside = right.start <= left < right.end
        outcome: bool = {
            "=": inside,
            "!=": not inside,
            "<": left < right.start,
            "<=": left < right.end,
            ">": left >= right.end,
            ">=": left >= right.start,
        }[op]
        return outcome
    if op == "=":
        return bool(left == right)
    if op == "!=":
        return bool(left != right)
    if left is None or right is None:
        return False
    try:
        result: bool = {
            "<": left < right,
            "<=": left <= right,
            ">": left > right,
            ">=": left >= right,
        }[op]
    except TypeError:
        return False
    return result


def _like(pattern: str) -> re.Pattern[str]:
    regex = "".join(
        ".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern.lower()
    )
    return re.compile(f"^{regex}$", re.DOTALL)


def matches(store: Store, rec: Record, cond: soql.Condition) -> bool:
    if isinstance(cond, soql.BoolOp):
        results = (matches(store, rec, c) for c in cond.operands)
        return all(results) if cond.op == "AND" else any(results)
    if isinstance(cond, soql.Not):
        return not matches(store, rec, cond.operand)
    left = _norm(_value(store, rec, cond.path))
    if cond.op in ("IN", "NOT IN"):
        assert isinstance(cond.value, tuple)
        found = left in _literal_set(cond)
        return found if cond.op == "IN" else not found
    if cond.op == "LIKE":
        assert isinstance(cond.value, str)
        return isinstance(left, str) and _like(cond.value).match(left) is not None
    return _compare(cond.op, left, _literal_norm(cond.value, cond.path))


def _sort_key(value: Any) -> tuple[int, Any]:
    return (0, "") if value is None else (1, _norm(value))


def _order(store: Store, rows: list[Record], items: tuple[soql.OrderItem, ...]) -> list[Record]:
    for item in reversed(items):  # stable sorts, last key first
        present = [r for r in rows if _value(store, r, item.path) is not None]
        absent = [r for r in rows if _value(store, r, item.path) is None]
        present.sort(key=lambda r: _sort_key(_value(store, r, item.path)), reverse=item.descending)
        rows = present + absent if item.nulls_last else absent + present
    return rows


def attributes(object_name: str, id18: str, version: str) -> dict[str, str]:
    return {"type": object_name, "url": f"/services/data/v{version}/sobjects/{object_name}/{id18}"}


def render(store: Store, rec: Record, query: soql.Query, version: str) -> dict[str, Any]:
    out: dict[str, Any] = {"attributes": attributes(query.object.name, rec["Id"], version)}
    for path in query.fields:
        if path.relationship is None:
            out[path.field.name] = to_json_value(rec.get(path.field.name))
            continue
        rel_name = path.relationship.relationship_name or ""
        ref = rec.get(path.relationship.name)
        target = store.find(ref) if ref else None
        if target is None:
            out[rel_name] = None
            continue
        nested = out.get(rel_name)
        if not isinstance(nested, dict):
            target_type = object_of_id(target["Id"]) or path.target.name
            nested = {"attributes": attributes(target_type, target["Id"], version)}
            out[rel_name] = nested
        nested[path.field.name] = to_json_value(target.get(path.field.name))
    return out


def run(store: Store, text: str, version: str, include_deleted: bool, batch_size: int) -> Any:
    with store.lock:
        query = soql.parse(text, store.now())
        rows = [
            r
            for r in store.rows(query.object.name, include_deleted)
            if query.where is None or matches(store, r, query.where)
        ]
        if query.count_only:
            return {"totalSize": len(rows), "done": True, "records": []}
        rows = _order(store, rows, query.order_by)
        if query.offset:
            rows = rows[query.offset :]
        if query.limit is not None:
            rows = rows[: query.limit]
        rendered = [render(store, r, query, version) for r in rows]
        return page(store, rendered, 0, batch_size, version, None)


def page(
    store: Store,
    rows: list[dict[str, Any]],
    start: int,
    batch_size: int,
    version: str,
    locator: str | None,
) -> dict[str, Any]:
    end = start + batch_size
    result: dict[str, Any] = {"totalSize": len(rows), "done": end >= len(rows)}
    if end < len(rows):
        locator = locator or store.open_cursor(rows, batch_size)
        result["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
    result["records"] = rows[start:end]
    return result


def more(store: Store, locator_and_offset: str, version: str) -> dict[str, Any]:
    locator, _, offset = locator_and_offset.rpartition("-")
    cursor = store.cursors.get(locator)
    if cursor is None or not offset.isdigit():
        raise ApiError(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
    return page(store, cursor.rows, int(offset), cursor.batch_size, version, locator)
