"""OData conventions of Graph's Outlook endpoints (protocols.md A2, A11).

`Prefer` parsing (several headers or a comma list, echoed in `Preference-Applied`),
case-insensitive query options, `$select`, paging with `@odata.nextLink`, and the
`singleValueExtendedProperties` forms of `$filter` and `$expand`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import JSONResponse

from simulators.graph.errors import bad_request
from simulators.graph.store import Item

_PREFER_ITEM = re.compile(r'\s*([A-Za-z.\-]+)\s*(?:=\s*("([^"]*)"|[^,]*))?\s*(?:,|$)')
_EXT_ANY = re.compile(
    r"singleValueExtendedProperties/any\(\s*(\w+)\s*:\s*\1/id\s+eq\s+'([^']*)'"
    r"(?:\s+and\s+\1/value\s+eq\s+'((?:[^']|'')*)')?\s*\)",
    re.IGNORECASE,
)
_EQ = re.compile(r"^\s*(\w+)\s+eq\s+'((?:[^']|'')*)'\s*$", re.IGNORECASE)
_EXPAND_EXT = re.compile(
    r"singleValueExtendedProperties(?:\(\s*\$filter\s*=\s*id\s+eq\s+'([^']*)'\s*\))?",
    re.IGNORECASE,
)
MAX_PAGE = 1000


def parse_prefer(request: Request) -> dict[str, str]:
    prefs: dict[str, str] = {}
    for header in request.headers.getlist("prefer"):
        for match in _PREFER_ITEM.finditer(header):
            name = match.group(1)
            if not name:
                continue
            value = match.group(3) if match.group(3) is not None else (match.group(2) or "")
            prefs[name.lower()] = value.strip()
    return prefs


def query(request: Request) -> dict[str, str]:
    """Query options with lower-cased names (Graph matches them case-insensitively)."""
    return {k.lower(): v for k, v in request.query_params.items()}


@dataclass
class View:
    """How one request wants items rendered."""

    time_zone: str = "UTC"
    immutable_ids: bool = False
    select: set[str] | None = None
    expand_ext: str | None = None
    """'*' = all extended properties, else the (lower-cased) id asked for."""
    page_size: int | None = None
    applied: list[str] = field(default_factory=list)

    def headers(self) -> dict[str, str]:
        return {"Preference-Applied": ", ".join(self.applied)} if self.applied else {}


def view_of(request: Request) -> View:
    prefs = parse_prefer(request)
    q = query(request)
    v = View()
    if "outlook.timezone" in prefs:
        v.time_zone = prefs["outlook.timezone"] or "UTC"
        v.applied.append(f'outlook.timezone="{v.time_zone}"')
    if prefs.get("idtype", "").lower() == "immutableid":
        v.immutable_ids = True
        v.applied.append('IdType="ImmutableId"')
    if "odata.maxpagesize" in prefs:
        try:
            v.page_size = max(1, min(MAX_PAGE, int(prefs["odata.maxpagesize"])))
        except ValueError as exc:
            raise bad_request("Invalid odata.maxpagesize preference.") from exc
        v.applied.append(f"odata.maxpagesize={v.page_size}")
    if q.get("$select"):
        v.select = {s.strip() for s in q["$select"].split(",") if s.strip()}
    if q.get("$expand"):
        match = _EXPAND_EXT.search(q["$expand"])
        if match is None:
            raise bad_request(f"Unsupported $expand: {q['$expand']}")
        v.expand_ext = (match.group(1) or "*").lower()
    return v


def render_ext(item_ext: dict[str, str], ext_ids: dict[str, str], wanted: str | None) -> Any:
    if wanted is None:
        return None
    return [
        {"id": ext_ids[key], "value": value}
        for key, value in item_ext.items()
        if wanted in ("*", key)
    ]


def apply_select(body: dict[str, Any], select: set[str] | None) -> dict[str, Any]:
    if not select:
        return body
    keep = select | {"id", "@odata.etag", "@odata.type", "@removed", "@odata.context"}
    return {k: v for k, v in body.items() if k in keep or k == "singleValueExtendedProperties"}


@dataclass(frozen=True)
class ItemFilter:
    """A parsed `$filter`: an extended-property match and/or `field eq 'value'`."""

    ext_id: str | None = None
    ext_value: str | None = None
    field_name: str | None = None
    field_value: str | None = None

    def matches_ext(self, ext: dict[str, str]) -> bool:
        if self.ext_id is None:
            return True
        if self.ext_id not in ext:
            return False
        return self.ext_value is None or ext[self.ext_id] == self.ext_value

    def matches(self, item: Item) -> bool:
        if not self.matches_ext(item.ext):
            return False
        if self.field_name is None:
            return True
        return bool(item.data.get(self.field_name) == self.field_value)


def parse_filter(request: Request) -> ItemFilter:
    text = query(request).get("$filter")
    if not text:
        return ItemFilter()
    match = _EXT_ANY.search(text)
    if match:
        value = match.group(3).replace("''", "'") if match.group(3) is not None else None
        return ItemFilter(ext_id=match.group(2).lower(), ext_value=value)
    match = _EQ.match(text)
    if match:
        return ItemFilter(field_name=match.group(1), field_value=match.group(2).replace("''", "'"))
    raise bad_request(f"Invalid filter clause: {text}", code="ErrorInvalidUrlQueryFilter")


def page(request: Request, items: list[dict[str, Any]], view: View, context: str) -> JSONResponse:
    """One page of a plain (non-delta) collection, with `$skip`-based `@odata.nextLink`."""
    q = query(request)
    try:
        top = int(q.get("$top") or view.page_size or 10)
        skip = int(q.get("$skip") or 0)
    except ValueError as exc:
        raise bad_request("Invalid $top or $skip.") from exc
    top = max(1, min(MAX_PAGE, top))
    chunk = items[skip : skip + top]
    body: dict[str, Any] = {"@odata.context": context, "value": chunk}
    if skip + top < len(items):
        params = {k: v for k, v in request.query_params.items() if k.lower() not in ("$skip",)}
        params["$skip"] = str(skip + top)
        base = request.url.remove_query_params(list(request.query_params))
        body["@odata.nextLink"] = f"{base}?{urlencode(params, safe='$')}"
    return JSONResponse(body, headers=view.headers())


def context_url(request: Request, fragment: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/v1.0/$metadata#{fragment}"
