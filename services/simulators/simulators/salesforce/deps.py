"""FastAPI dependencies and response helpers shared by the REST routes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Header, Request, Response
from fastapi.responses import JSONResponse
from simulators.salesforce.errors import ApiError
from simulators.salesforce.org import ApiContext, Org, Result, check_version


def org_of(request: Request) -> Org:
    org: Org = request.app.state.org
    return org


async def api_context(
    request: Request,
    response: Response,
    version: str,
    authorization: Annotated[str | None, Header()] = None,
) -> ApiContext:
    """Version check, session check (401), then one call of the daily allocation (403)."""
    org = org_of(request)
    number = check_version(version)
    session = org.sessions.authenticate(authorization)
    try:
        org.usage.spend()
    finally:
        request.state.limit_info = org.usage.header()
    response.headers["Sforce-Limit-Info"] = org.usage.header()
    return ApiContext(org, session, number)


Context = Annotated[ApiContext, Depends(api_context)]


def respond(result: Result, ctx: ApiContext) -> Response:
    headers = {**result.headers, "Sforce-Limit-Info": ctx.org.usage.header()}
    if result.status == 204 or result.body is None:
        return Response(status_code=result.status, headers=headers)
    return JSONResponse(result.body, status_code=result.status, headers=headers)


def error_response(request: Request, exc: ApiError) -> JSONResponse:
    headers = dict(exc.headers)
    limit_info: Any = getattr(request.state, "limit_info", None)
    if limit_info:
        headers["Sforce-Limit-Info"] = limit_info
    return JSONResponse(exc.body(), status_code=exc.status, headers=headers)
