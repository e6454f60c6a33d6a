"""The Salesforce REST simulator app: token endpoint, versions, limits, query, `/_sim` control.

`create_app()` builds the FastAPI app over one in-memory org; `serve(args)` runs it over HTTPS
(local CA) or plain HTTP for `syncline sim salesforce --port P`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from typing import Annotated, Any

from fastapi import FastAPI, Header, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from simulators.common.faults import FaultMiddleware, Scope, SimControl
from simulators.salesforce import composite, seed, sobjects
from simulators.salesforce import query as soql_query
from simulators.salesforce.auth import OAuthError
from simulators.salesforce.deps import Context, error_response, org_of, respond
from simulators.salesforce.errors import ApiError
from simulators.salesforce.org import API_VERSIONS, Org, Result
from simulators.salesforce.schema import OBJECTS, ORG_ID
from simulators.salesforce.store import OrgSettings, to_json_value


class QuotaRequest(BaseModel):
    allocation: int | None = None
    used: int | None = None


class SettingsRequest(BaseModel):
    session_timeout_s: float | None = None
    delete_log_retention_days: float | None = None
    page_size: int | None = None
    clock_offset_s: float | None = None


def _error_body(status: int) -> tuple[bytes, str]:
    code = {429: "REQUEST_LIMIT_EXCEEDED", 503: "SERVER_UNAVAILABLE"}.get(
        status, "UNKNOWN_EXCEPTION"
    )
    body = [{"message": "Injected fault", "errorCode": code}]
    return json.dumps(body).encode(), "application/json"


def _subject(scope: Scope) -> str | None:
    return ORG_ID.lower() if str(scope.get("path", "")).startswith("/services/") else None


def _versions() -> list[dict[str, str]]:
    return [
        {"label": f"Release {v}", "url": f"/services/data/v{v}", "version": v} for v in API_VERSIONS
    ]


def create_app(org: Org | None = None, ca_pem: str | None = None) -> FastAPI:
    app = FastAPI(title="Salesforce REST simulator", openapi_url=None, docs_url=None)
    app.state.org = org or Org()
    app.state.ca_pem = ca_pem
    control = SimControl(subject_of=_subject, error_body=_error_body, counted_prefix="/services/")
    app.state.control = control

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError) -> Response:
        return error_response(request, exc)

    @app.exception_handler(OAuthError)
    async def oauth_error(request: Request, exc: OAuthError) -> Response:
        body = {"error": exc.error, "error_description": exc.description}
        return JSONResponse(body, status_code=exc.status)

    @app.post("/services/oauth2/token")
    async def token(request: Request, authorization: Annotated[str | None, Header()] = None) -> Any:
        form = {k: str(v) for k, v in (await request.form()).items()}
        return org_of(request).sessions.token_response(form, authorization, str(request.base_url))

    @app.get("/services/data")
    @app.get("/services/data/")
    async def versions() -> Any:
        return _versions()

    @app.get("/services/data/{version}")
    @app.get("/services/data/{version}/")
    async def version_root(ctx: Context) -> Response:
        base = f"/services/data/v{ctx.version}"
        names = ["sobjects", "query", "queryAll", "composite", "limits", "search", "recent"]
        return respond(Result(200, {n: f"{base}/{n}" for n in names}), ctx)

    @app.get("/services/data/{version}/limits")
    @app.get("/services/data/{version}/limits/")
    async def limits(ctx: Context) -> Response:
        return respond(Result(200, ctx.org.usage.limits_body()), ctx)

    @app.get("/services/data/{version}/query")
    @app.get("/services/data/{version}/queryAll")
    async def query(ctx: Context, request: Request, q: str) -> Response:
        include_deleted = request.url.path.endswith("queryAll")
        batch = _batch_size(request.headers.get("sforce-query-options"), ctx.org.store.settings)
        body = soql_query.run(ctx.org.store, q, ctx.version, include_deleted, batch)
        return respond(Result(200, body), ctx)

    @app.get("/services/data/{version}/query/{locator}")
    @app.get("/services/data/{version}/queryAll/{locator}")
    async def query_more(ctx: Context, locator: str) -> Response:
        return respond(Result(200, soql_query.more(ctx.org.store, locator, ctx.version)), ctx)

    app.include_router(composite.router)
    app.include_router(sobjects.router)
    app.include_router(control.router)
    _control_routes(app)
    app.add_middleware(FaultMiddleware, control=control)
    return app


def _batch_size(header: str | None, settings: OrgSettings) -> int:
    """`Sforce-Query-Options: batchSize=n` is a hint within 200..2000 (C4)."""
    size = settings.page_size
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        if key.lower() == "batchsize" and value.isdigit():
            size = max(200, min(int(value), 2000))
    return min(size, settings.page_size) if settings.page_size < 200 else size


def _control_routes(app: FastAPI) -> None:
    @app.get("/_sim/state")
    async def state(request: Request, object: str | None = None) -> Any:
        store = org_of(request).store
        with store.lock:
            names = [object] if object else list(OBJECTS)
            return {
                name: [{k: to_json_value(v) for k, v in r.items()} for r in store.rows(name, True)]
                for name in names
                if name in OBJECTS
            }

    @app.post("/_sim/seed")
    async def post_seed(request: Request, body: seed.SeedRequest) -> Any:
        org = org_of(request)
        with org.store.lock:
            org.sessions.by_token.clear() if body.reset else None
            return seed.seed(org.store, org.sessions.app.run_as_username, body)

    @app.get("/_sim/credentials")
    async def credentials(request: Request) -> Any:
        org = org_of(request)
        base = str(request.base_url).rstrip("/")
        return {
            "ca_pem": request.app.state.ca_pem,
            "login_url": base,
            "instance_url": base,
            "org_id": ORG_ID,
            "client_id": org.sessions.app.client_id,
            "client_secret": org.sessions.app.client_secret,
            "username": org.sessions.app.run_as_username,
            "private_key_pem": org.sessions.app.private_key_pem,
            "certificate_pem": org.sessions.app.certificate_pem,
            "api_version": "62.0",
        }

    @app.get("/_sim/quota")
    async def get_quota(request: Request) -> Any:
        usage = org_of(request).usage
        return {"allocation": usage.allocation, "used": usage.used, "remaining": usage.remaining()}

    @app.post("/_sim/quota")
    async def set_quota(request: Request, body: QuotaRequest) -> Any:
        usage = org_of(request).usage
        if body.allocation is not None:
            usage.allocation = body.allocation
        if body.used is not None:
            usage.used = body.used
        return {"allocation": usage.allocation, "used": usage.used, "remaining": usage.remaining()}

    @app.post("/_sim/expire-sessions")
    async def expire_sessions(request: Request) -> Any:
        return {"expired": org_of(request).sessions.expire_all()}

    @app.post("/_sim/settings")
    async def settings(request: Request, body: SettingsRequest) -> Any:
        store = org_of(request).store
        if body.session_timeout_s is not None:
            store.settings.session_timeout_s = body.session_timeout_s
        if body.delete_log_retention_days is not None:
            store.settings.delete_log_retention_days = body.delete_log_retention_days
        if body.page_size is not None:
            store.settings.page_size = body.page_size
        if body.clock_offset_s is not None:
            store.clock_offset = dt.timedelta(seconds=body.clock_offset_s)
        return {**store.settings.__dict__, "clock_offset_s": store.clock_offset.total_seconds()}

    @app.post("/_sim/purge-delete-log")
    async def purge_delete_log(request: Request) -> Any:
        store = org_of(request).store
        store.purge_delete_log()
        return {"earliestDateAvailable": to_json_value(store.earliest_delete_available())}


def serve(args: argparse.Namespace) -> int:
    """`syncline sim salesforce --port P [--http] [--host H] [--tls-dir D] [--seed N]`."""
    from simulators.common.server import serve as run
    from simulators.common.tls import load_or_create_tls

    tls = (
        None if getattr(args, "http", False) else load_or_create_tls(getattr(args, "tls_dir", None))
    )
    org = Org()
    if getattr(args, "seed", None) is not None:
        seed.seed(
            org.store,
            org.sessions.app.run_as_username,
            seed.SeedRequest(seed=args.seed, reps=getattr(args, "reps", 3)),
        )
    app = create_app(org, ca_pem=tls.ca_pem if tls else None)
    run(app, args.host, args.port, tls)
    return 0
