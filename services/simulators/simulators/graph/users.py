"""Users (learn.microsoft.com/graph/api/user-list, user-get): the directory's mailboxes.
App-only tokens cannot use `/me` (protocols.md A1)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from simulators.graph import odata
from simulators.graph.errors import GraphError
from simulators.graph.items import current_user
from simulators.graph.store import GraphStore


def build_router(store: GraphStore) -> APIRouter:
    router = APIRouter(prefix="/v1.0", tags=["users"])

    @router.get("/users")
    async def list_users(request: Request) -> Response:
        view, flt = odata.view_of(request), odata.parse_filter(request)
        users = [u.to_graph() for u in store.users.values()]
        if flt.field_name is not None:
            users = [u for u in users if str(u.get(flt.field_name)) == flt.field_value]
        users = [odata.apply_select(u, view.select) for u in users]
        return odata.page(request, users, view, odata.context_url(request, "users"))

    @router.get("/users/{user_id}")
    async def get_user(request: Request, user_id: str) -> Response:
        view = odata.view_of(request)
        body = odata.apply_select(current_user(request).to_graph(), view.select)
        return JSONResponse({"@odata.context": odata.context_url(request, "users/$entity"), **body})

    @router.get("/me")
    async def me() -> Response:
        raise GraphError(
            400,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        )

    return router
