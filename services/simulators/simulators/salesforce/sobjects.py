"""sObject resources: describe, rows CRUD, rows by external id / upsert, getUpdated/getDeleted.

REST API Developer Guide: "sObject Describe", "sObject Rows", "sObject Rows by External ID",
"Insert or Update (Upsert) a Record Using an External ID", "sObject Get Updated",
"sObject Get Deleted" (protocols.md C5, C8). The operations return `Result`s so Composite
subrequests run exactly the same code as direct calls.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request, Response
from simulators.salesforce import query as soql_query
from simulators.salesforce import writes
from simulators.salesforce.deps import Context, respond
from simulators.salesforce.errors import ApiError, not_found
from simulators.salesforce.org import ApiContext, Result
from simulators.salesforce.schema import OBJECTS, ObjectDef, object_named
from simulators.salesforce.store import Record, format_datetime, to_json_value

router = APIRouter(prefix="/services/data/{version}")
_UPDATED_WINDOW = dt.timedelta(days=30)


def object_def(name: str) -> ObjectDef:
    obj = object_named(name)
    if obj is None:
        raise not_found()
    return obj


def record_body(rec: Record, obj: ObjectDef, version: str, fields: list[str] | None) -> Any:
    out: dict[str, Any] = {"attributes": soql_query.attributes(obj.name, rec["Id"], version)}
    names = fields or list(obj.fields)
    for name in names:
        f = obj.field_named(name)
        if f is None:
            raise ApiError(
                400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {obj.name}"
            )
        out[f.name] = to_json_value(rec.get(f.name))
    return out


def _body_dict(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "Expected a JSON object as the request body")
    return body


# --- operations (also used by /composite) -----------------------------------------------------


def op_create(ctx: ApiContext, type_name: str, body: Any) -> Result:
    obj = object_def(type_name)
    rec = writes.create(ctx.org.store, obj.name, _body_dict(body), ctx.actor)
    location = f"/services/data/v{ctx.version}/sobjects/{obj.name}/{rec['Id']}"
    return Result(201, {"id": rec["Id"], "success": True, "errors": []}, {"Location": location})


def op_read(ctx: ApiContext, type_name: str, raw_id: str, fields: list[str] | None) -> Result:
    obj = object_def(type_name)
    store = ctx.org.store
    rec = store.live(obj.name, store.resolve(raw_id, obj.name))
    return Result(200, record_body(rec, obj, ctx.version, fields))


def op_update(
    ctx: ApiContext, type_name: str, raw_id: str, body: Any, if_unmodified_since: str | None
) -> Result:
    obj = object_def(type_name)
    store = ctx.org.store
    writes.update(store, obj.name, raw_id, _body_dict(body), ctx.actor, if_unmodified_since)
    return Result(204)


def op_delete(ctx: ApiContext, type_name: str, raw_id: str) -> Result:
    obj = object_def(type_name)
    writes.delete(ctx.org.store, obj.name, raw_id)
    return Result(204)


def op_read_by_external_id(ctx: ApiContext, type_name: str, field: str, value: str) -> Result:
    obj = object_def(type_name)
    found = writes.find_by_external_id(ctx.org.store, obj.name, field, value)
    if not found:
        raise not_found()
    if len(found) > 1:
        urls = [f"/services/data/v{ctx.version}/sobjects/{obj.name}/{r['Id']}" for r in found]
        return Result(300, urls)
    return Result(200, record_body(found[0], obj, ctx.version, None))


def op_upsert(
    ctx: ApiContext, type_name: str, field: str, value: str, body: Any, update_only: bool
) -> Result:
    obj = object_def(type_name)
    try:
        rec, created = writes.upsert(
            ctx.org.store, obj.name, field, value, _body_dict(body), ctx.actor, update_only
        )
    except ApiError as exc:
        if exc.status == 300:
            return op_read_by_external_id(ctx, type_name, field, value)
        raise
    result = {"id": rec["Id"], "success": True, "errors": [], "created": created}
    if created:
        location = f"/services/data/v{ctx.version}/sobjects/{obj.name}/{rec['Id']}"
        return Result(201, result, {"Location": location})
    if ctx.version_number < 46.0:  # before v46 an update by upsert answered 204 with no body
        return Result(204)
    return Result(200, result)


def _replication_window(start: str, end: str) -> tuple[dt.datetime, dt.datetime]:
    """Seconds are dropped from start/end (C8)."""
    try:
        lo = writes.parse_datetime(start).replace(second=0)
        hi = writes.parse_datetime(end).replace(second=0)
    except ValueError as exc:
        raise ApiError(400, "INVALID_REPLICATION_DATE", "invalid date format") from exc
    if lo >= hi:
        raise ApiError(
            400,
            "INVALID_REPLICATION_DATE",
            "startDate must chronologically precede endDate by more than one minute",
        )
    return lo, hi


def op_updated(ctx: ApiContext, type_name: str, start: str, end: str) -> Result:
    obj = object_def(type_name)
    store = ctx.org.store
    lo, hi = _replication_window(start, end)
    now = store.now()
    if lo < now - _UPDATED_WINDOW:
        raise ApiError(400, "INVALID_REPLICATION_DATE", "startDate cannot be more than 30 days ago")
    covered = min(hi, now.replace(second=0))
    with store.lock:
        ids = [r["Id"] for r in store.rows(obj.name) if lo <= r["SystemModstamp"] < covered]
    return Result(200, {"ids": ids, "latestDateCovered": format_datetime(covered)})


def op_deleted(ctx: ApiContext, type_name: str, start: str, end: str) -> Result:
    obj = object_def(type_name)
    store = ctx.org.store
    lo, hi = _replication_window(start, end)
    now = store.now()
    if lo < now - dt.timedelta(days=store.settings.delete_log_retention_days + 15):
        raise ApiError(400, "INVALID_REPLICATION_DATE", "startDate is too far in the past")
    covered = min(hi, now.replace(second=0))
    with store.lock:
        records = [
            {"id": e.id, "deletedDate": format_datetime(e.deleted_at)}
            for e in store.delete_log
            if e.object_name == obj.name and lo <= e.deleted_at < covered
        ]
        earliest = store.earliest_delete_available()
    return Result(
        200,
        {
            "deletedRecords": records,
            "earliestDateAvailable": format_datetime(earliest),
            "latestDateCovered": format_datetime(covered),
        },
    )


def describe(obj: ObjectDef, version: str) -> dict[str, Any]:
    base = f"/services/data/v{version}/sobjects/{obj.name}"
    return {
        "name": obj.name,
        "label": obj.label,
        "keyPrefix": obj.key_prefix,
        "createable": obj.name not in ("User", "Profile"),
        "updateable": True,
        "deletable": obj.name not in ("User", "Profile"),
        "queryable": True,
        "urls": {"sobject": base, "describe": f"{base}/describe", "rowTemplate": f"{base}/{{ID}}"},
        "fields": [
            {
                "name": f.name,
                "label": f.label or f.name,
                "type": f.type,
                "length": f.length if f.type not in ("boolean", "int", "date", "datetime") else 0,
                "byteLength": f.length * 3,
                "nillable": f.nillable,
                "createable": f.createable,
                "updateable": f.updateable,
                "externalId": f.external_id,
                "unique": f.unique,
                "idLookup": f.name == "Id" or f.external_id,
                "referenceTo": list(f.reference_to),
                "relationshipName": f.relationship_name,
                "defaultedOnCreate": f.type == "boolean" or f.name in ("OwnerId", "Status"),
                "picklistValues": [
                    {"value": v, "label": v, "active": True, "defaultValue": False}
                    for v in f.picklist
                ],
            }
            for f in obj.fields.values()
        ],
    }


# --- routes -----------------------------------------------------------------------------------


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}") from exc


@router.get("/sobjects")
async def describe_global(ctx: Context) -> Any:
    return {
        "encoding": "UTF-8",
        "maxBatchSize": 200,
        "sobjects": [
            {k: v for k, v in describe(o, ctx.version).items() if k != "fields"}
            for o in OBJECTS.values()
        ],
    }


@router.get("/sobjects/{type_name}")
async def basic_info(ctx: Context, type_name: str) -> Any:
    obj = object_def(type_name)
    info = {k: v for k, v in describe(obj, ctx.version).items() if k != "fields"}
    return {"objectDescribe": info, "recentItems": []}


@router.get("/sobjects/{type_name}/describe")
async def describe_object(ctx: Context, type_name: str) -> Any:
    return describe(object_def(type_name), ctx.version)


@router.get("/sobjects/{type_name}/updated")
@router.get("/sobjects/{type_name}/updated/")
async def get_updated(ctx: Context, type_name: str, start: str, end: str) -> Response:
    return respond(op_updated(ctx, type_name, start, end), ctx)


@router.get("/sobjects/{type_name}/deleted")
@router.get("/sobjects/{type_name}/deleted/")
async def get_deleted(ctx: Context, type_name: str, start: str, end: str) -> Response:
    return respond(op_deleted(ctx, type_name, start, end), ctx)


@router.post("/sobjects/{type_name}")
async def create(ctx: Context, type_name: str, request: Request) -> Response:
    return respond(op_create(ctx, type_name, await _json(request)), ctx)


@router.get("/sobjects/{type_name}/{record_id}")
async def read(ctx: Context, type_name: str, record_id: str, fields: str | None = None) -> Response:
    names = [f.strip() for f in fields.split(",")] if fields else None
    return respond(op_read(ctx, type_name, record_id, names), ctx)


@router.patch("/sobjects/{type_name}/{record_id}")
async def update(
    ctx: Context,
    type_name: str,
    record_id: str,
    request: Request,
    if_unmodified_since: Annotated[str | None, Header()] = None,
) -> Response:
    body = await _json(request)
    return respond(op_update(ctx, type_name, record_id, body, if_unmodified_since), ctx)


@router.delete("/sobjects/{type_name}/{record_id}")
async def delete(ctx: Context, type_name: str, record_id: str) -> Response:
    return respond(op_delete(ctx, type_name, record_id), ctx)


@router.get("/sobjects/{type_name}/{field}/{value}")
async def read_by_external_id(ctx: Context, type_name: str, field: str, value: str) -> Response:
    return respond(op_read_by_external_id(ctx, type_name, field, value), ctx)


@router.patch("/sobjects/{type_name}/{field}/{value}")
async def upsert(
    ctx: Context,
    type_name: str,
    field: str,
    value: str,
    request: Request,
    update_only: Annotated[bool, Query(alias="updateOnly")] = False,
) -> Response:
    body = await _json(request)
    return respond(op_upsert(ctx, type_name, field, value, body, update_only), ctx)
