"""sObject Collections (`/composite/sobjects`, ≤ 200 records) and Composite (`/composite`, ≤ 25).

REST API Developer Guide: "sObject Collections" create/update/upsert/delete/retrieve and
"Composite" (protocols.md C6, C7). Each call counts as one API call. Collections answer an
array in request order with `statusCode` in errors; `allOrNone` rolls everything back and the
innocent records get ALL_OR_NONE_OPERATION_ROLLED_BACK. Composite resolves `@{ref.field}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from fastapi import APIRouter, Request, Response
from simulators.salesforce import query as soql_query
from simulators.salesforce import sobjects, writes
from simulators.salesforce.deps import Context, respond
from simulators.salesforce.errors import ApiError
from simulators.salesforce.org import ApiContext, Result
from simulators.salesforce.schema import object_of_id
from simulators.salesforce.store import Store

router = APIRouter(prefix="/services/data/{version}/composite")
MAX_COLLECTION = 200
MAX_SUBREQUESTS = 25
_ROLLED_BACK = ApiError(
    400,
    "ALL_OR_NONE_OPERATION_ROLLED_BACK",
    "Record rolled back because not all records were valid and the request was using AllOrNone "
    "header",
)


@contextmanager
def _transaction(store: Store, all_or_none: bool) -> Iterator[Callable[[], None]]:
    """Holds the store lock; the yielded `rollback()` restores the state from the start."""
    with store.lock:
        saved = (
            {t: {i: dict(r) for i, r in rows.items()} for t, rows in store.records.items()}
            if all_or_none
            else None
        )
        saved_log = list(store.delete_log)

        def rollback() -> None:
            if saved is not None:
                for t, rows in saved.items():
                    store.records[t].clear()
                    store.records[t].update(rows)
                store.delete_log[:] = saved_log

        yield rollback


def _per_record(
    ctx: ApiContext, items: list[Any], all_or_none: bool, apply: Callable[[Any], dict[str, Any]]
) -> list[dict[str, Any]]:
    if len(items) > MAX_COLLECTION:
        raise ApiError(
            400,
            "EXCEEDED_ID_LIMIT",
            f"record limit reached. cannot submit more than {MAX_COLLECTION} records into this "
            "call",
        )
    results: list[dict[str, Any]] = []
    with _transaction(ctx.org.store, all_or_none) as rollback:
        for item in items:
            try:
                results.append({**apply(item), "success": True, "errors": []})
            except ApiError as exc:
                results.append({"success": False, "errors": [exc.collection_error()]})
        if all_or_none and any(not r["success"] for r in results):
            rollback()
            results = [
                r
                if not r["success"]
                else {"success": False, "errors": [_ROLLED_BACK.collection_error()]}
                for r in results
            ]
    return [{"id": r.get("id"), **r} if r["success"] else r for r in results]


def _records(body: Any) -> tuple[list[Any], bool]:
    if not isinstance(body, dict) or not isinstance(body.get("records"), list):
        raise ApiError(400, "JSON_PARSER_ERROR", "The request body must contain records")
    return body["records"], bool(body.get("allOrNone", False))


def _type_of(record: Any) -> str:
    if not isinstance(record, dict):
        raise ApiError(400, "JSON_PARSER_ERROR", "Each record must be a JSON object")
    attrs = record.get("attributes") or {}
    type_name = attrs.get("type") if isinstance(attrs, dict) else None
    if not type_name:
        raise ApiError(400, "INVALID_TYPE", "Must specify a type in the attributes of the record")
    return str(type_name)


def _fields(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if k not in ("attributes", "id", "Id")}


def collection_create(ctx: ApiContext, body: Any) -> list[dict[str, Any]]:
    records, all_or_none = _records(body)

    def apply(record: Any) -> dict[str, Any]:
        type_name = _type_of(record)
        if record.get("id") or record.get("Id"):
            raise ApiError(400, "INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])
        obj = sobjects.object_def(type_name)
        rec = writes.create(ctx.org.store, obj.name, _fields(record), ctx.actor)
        return {"id": rec["Id"]}

    return _per_record(ctx, records, all_or_none, apply)


def collection_update(ctx: ApiContext, body: Any) -> list[dict[str, Any]]:
    records, all_or_none = _records(body)

    def apply(record: Any) -> dict[str, Any]:
        type_name = _type_of(record)
        raw_id = record.get("id") or record.get("Id")
        if not raw_id:
            raise ApiError(400, "MISSING_ARGUMENT", "Id not specified in an update call", ["Id"])
        obj = sobjects.object_def(type_name)
        rec = writes.update(ctx.org.store, obj.name, str(raw_id), _fields(record), ctx.actor)
        return {"id": rec["Id"]}

    return _per_record(ctx, records, all_or_none, apply)


def collection_upsert(ctx: ApiContext, type_name: str, field: str, body: Any) -> list[Any]:
    records, all_or_none = _records(body)
    obj = sobjects.object_def(type_name)

    def apply(record: Any) -> dict[str, Any]:
        value = record.get(field) if isinstance(record, dict) else None
        if value is None:
            raise ApiError(400, "MISSING_ARGUMENT", f"{field} not specified", [field])
        fields = {k: v for k, v in _fields(record).items() if k != field}
        rec, created = writes.upsert(ctx.org.store, obj.name, field, str(value), fields, ctx.actor)
        return {"id": rec["Id"], "created": created}

    return _per_record(ctx, records, all_or_none, apply)


def collection_delete(ctx: ApiContext, ids: list[str], all_or_none: bool) -> list[Any]:
    def apply(raw_id: Any) -> dict[str, Any]:
        store = ctx.org.store
        id18 = store.resolve(str(raw_id))
        rec = store.find(id18)
        if rec is None:
            raise ApiError(404, "ENTITY_IS_DELETED", "entity is deleted")
        writes.delete(store, object_of_id(id18) or "", id18)
        return {"id": id18}

    return _per_record(ctx, ids, all_or_none, apply)


# --- Composite -----------------------------------------------------------------------------

_REFERENCE = re.compile(r"@\{([A-Za-z0-9_]+)((?:\.[A-Za-z0-9_]+|\[\d+\])+)\}")


def _resolve_refs(value: Any, results: dict[str, Any]) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_refs(v, results) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_refs(v, results) for v in value]
    if not isinstance(value, str):
        return value

    def lookup(m: re.Match[str]) -> str:
        current = results.get(m.group(1))
        if current is None:
            raise ApiError(400, "INVALID_REFERENCE", f"Invalid reference specified: {m.group(1)}")
        for part in re.findall(r"\.([A-Za-z0-9_]+)|\[(\d+)\]", m.group(2)):
            name, index = part
            current = current[int(index)] if index else current.get(name)
        return str(current)

    return _REFERENCE.sub(lookup, value)


_SUB_PATH = re.compile(r"^/services/data/(v\d+\.\d)(/.*)$")


def dispatch(ctx: ApiContext, method: str, url: str, body: Any, headers: dict[str, str]) -> Result:
    """Run one Composite subrequest through the same operations as the direct resources."""
    parts = urlsplit(url)
    m = _SUB_PATH.match(parts.path)
    if m is None:
        raise ApiError(400, "INVALID_URL", f"Invalid subrequest URL: {url}")
    path = [unquote(p) for p in m.group(2).strip("/").split("/")]
    params = {k: v[0] for k, v in parse_qs(parts.query).items()}
    method = method.upper()
    if path[0] in ("query", "queryAll") and method == "GET" and len(path) == 1:
        store = ctx.org.store
        q = params.get("q", "")
        return Result(200, soql_query.run(store, q, ctx.version, path[0] == "queryAll", 2000))
    if path[0] != "sobjects" or len(path) < 2:
        raise ApiError(400, "INVALID_URL", f"Unsupported subrequest URL: {url}")
    route = (method, len(path))
    if route == ("POST", 2):
        return sobjects.op_create(ctx, path[1], body)
    if route == ("GET", 3):
        fields = params["fields"].split(",") if params.get("fields") else None
        return sobjects.op_read(ctx, path[1], path[2], fields)
    if route == ("PATCH", 3):
        ius = {k.lower(): v for k, v in headers.items()}.get("if-unmodified-since")
        return sobjects.op_update(ctx, path[1], path[2], body, ius)
    if route == ("DELETE", 3):
        return sobjects.op_delete(ctx, path[1], path[2])
    if route == ("GET", 4):
        return sobjects.op_read_by_external_id(ctx, path[1], path[2], path[3])
    if route == ("PATCH", 4):
        return sobjects.op_upsert(ctx, path[1], path[2], path[3], body, False)
    raise ApiError(405, "METHOD_NOT_ALLOWED", f"HTTP Method '{method}' not allowed")


def composite(ctx: ApiContext, body: Any) -> dict[str, Any]:
    requests = body.get("compositeRequest") if isinstance(body, dict) else None
    if not isinstance(requests, list) or not requests:
        raise ApiError(400, "JSON_PARSER_ERROR", "compositeRequest is required")
    if len(requests) > MAX_SUBREQUESTS:
        raise ApiError(
            400,
            "LIMIT_EXCEEDED",
            f"Composite request cannot have more than {MAX_SUBREQUESTS} subrequests",
        )
    all_or_none = bool(body.get("allOrNone", False))
    results: dict[str, Any] = {}
    responses: list[dict[str, Any]] = []
    failed = False
    with _transaction(ctx.org.store, all_or_none) as rollback:
        for sub in requests:
            ref = str(sub.get("referenceId", ""))
            if failed and all_or_none:
                responses.append(_halted(ref))
                continue
            try:
                result = dispatch(
                    ctx,
                    str(sub.get("method", "GET")),
                    _resolve_refs(str(sub.get("url", "")), results),
                    _resolve_refs(sub.get("body"), results),
                    sub.get("httpHeaders") or {},
                )
            except ApiError as exc:
                failed = True
                responses.append(
                    {
                        "body": exc.body(),
                        "httpHeaders": {},
                        "httpStatusCode": exc.status,
                        "referenceId": ref,
                    }
                )
                continue
            results[ref] = result.body
            responses.append(
                {
                    "body": result.body,
                    "httpHeaders": result.headers,
                    "httpStatusCode": result.status,
                    "referenceId": ref,
                }
            )
        if failed and all_or_none:
            rollback()
            responses = [
                r if r["httpStatusCode"] >= 400 else _halted(r["referenceId"]) for r in responses
            ]
    return {"compositeResponse": responses}


def _halted(ref: str) -> dict[str, Any]:
    message = (
        "The transaction was rolled back since another operation in the same transaction failed."
    )
    return {
        "body": [{"errorCode": "PROCESSING_HALTED", "message": message}],
        "httpHeaders": {},
        "httpStatusCode": 400,
        "referenceId": ref,
    }


# --- routes -----------------------------------------------------------------------------------


async def _json(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError as exc:
        raise ApiError(400, "JSON_PARSER_ERROR", f"Unexpected character: {exc}") from exc


@router.post("/sobjects")
async def post_collection(ctx: Context, request: Request) -> Response:
    return respond(Result(200, collection_create(ctx, await _json(request))), ctx)


@router.patch("/sobjects")
async def patch_collection(ctx: Context, request: Request) -> Response:
    return respond(Result(200, collection_update(ctx, await _json(request))), ctx)


@router.patch("/sobjects/{type_name}/{field}")
async def upsert_collection(ctx: Context, type_name: str, field: str, request: Request) -> Response:
    body = await _json(request)
    return respond(Result(200, collection_upsert(ctx, type_name, field, body)), ctx)


@router.delete("/sobjects")
async def delete_collection(ctx: Context, ids: str, allOrNone: bool = False) -> Response:
    id_list = [i for i in ids.split(",") if i]
    return respond(Result(200, collection_delete(ctx, id_list, allOrNone)), ctx)


@router.get("/sobjects/{type_name}")
async def retrieve_collection(ctx: Context, type_name: str, ids: str, fields: str) -> Response:
    obj = sobjects.object_def(type_name)
    store = ctx.org.store
    names = [f.strip() for f in fields.split(",") if f.strip()]
    out: list[Any] = []
    for raw in ids.split(","):
        rec = store.find(store.resolve(raw))
        ok = rec is not None and not rec["IsDeleted"] and rec["Id"][:3] == obj.key_prefix
        out.append(sobjects.record_body(rec, obj, ctx.version, names) if ok and rec else None)
    return respond(Result(200, out), ctx)


@router.post("")
async def post_composite(ctx: Context, request: Request) -> Response:
    return respond(Result(200, composite(ctx, await _json(request))), ctx)
