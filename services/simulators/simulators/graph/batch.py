"""JSON batching (protocols.md A7): `POST /v1.0/$batch` with at most 20 requests.

Each inner request is sent back through the whole app (auth, access policy, throttling, fault
injection, counters), so it counts separately like on Graph. At most 4 run at a time; `dependsOn`
serializes, and a failed dependency answers 424 for its dependents.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from simulators.graph.errors import bad_request
from simulators.graph.items import json_body

MAX_REQUESTS = 20
PARALLEL = 4
_KEPT_HEADERS = ("content-type", "retry-after", "location", "etag", "preference-applied")


def _validate(requests: Any) -> list[dict[str, Any]]:
    if not isinstance(requests, list) or not requests:
        raise bad_request("Invalid batch payload format.", code="BadRequest")
    if len(requests) > MAX_REQUESTS:
        raise bad_request(
            f"The number of batch requests ({len(requests)}) exceeds the limit of {MAX_REQUESTS}.",
            code="BadRequest",
        )
    seen: set[str] = set()
    for req in requests:
        if not isinstance(req, dict) or not {"id", "method", "url"} <= req.keys():
            raise bad_request("Each batch request needs id, method and url.", code="BadRequest")
        rid = str(req["id"]).lower()
        if rid in seen:
            raise bad_request(f"Batch request id '{req['id']}' is a duplicate.", code="BadRequest")
        seen.add(rid)
        if "body" in req and not any(k.lower() == "content-type" for k in req.get("headers", {})):
            raise bad_request("A Content-Type header is required when a body is present.")
    ids = {str(r["id"]) for r in requests}
    for req in requests:
        for dep in req.get("dependsOn") or []:
            if str(dep) not in ids:
                raise bad_request(f"Batch request dependsOn unknown id '{dep}'.", code="BadRequest")
    return requests


def build_router() -> APIRouter:
    router = APIRouter(tags=["batch"])

    @router.post("/v1.0/$batch")
    async def batch(request: Request) -> Response:
        requests = _validate((await json_body(request)).get("requests"))
        gate = asyncio.Semaphore(PARALLEL)
        done: dict[str, asyncio.Future[dict[str, Any]]] = {
            str(r["id"]): asyncio.get_running_loop().create_future() for r in requests
        }
        auth = request.headers.get("authorization", "")
        transport = httpx.ASGITransport(app=request.app)
        base = str(request.base_url).rstrip("/") + "/v1.0"

        async with httpx.AsyncClient(transport=transport, base_url=base) as client:

            async def run(req: dict[str, Any]) -> None:
                rid = str(req["id"])
                for dep in req.get("dependsOn") or []:
                    if (await done[str(dep)])["status"] >= 400:
                        done[rid].set_result(_failed_dependency(rid))
                        return
                headers = {"authorization": auth, **(req.get("headers") or {})}
                body = req.get("body")
                content = json.dumps(body).encode() if body is not None else None
                async with gate:
                    response = await client.request(
                        str(req["method"]).upper(),
                        "/" + str(req["url"]).lstrip("/"),
                        headers=headers,
                        content=content,
                    )
                done[rid].set_result(_sub_response(rid, response))

            await asyncio.gather(*(run(r) for r in requests))
        return JSONResponse({"responses": [done[str(r["id"])].result() for r in requests]})

    return router


def _sub_response(rid: str, response: httpx.Response) -> dict[str, Any]:
    headers = {k: v for k, v in response.headers.items() if k.lower() in _KEPT_HEADERS}
    body: Any = None
    if response.content:
        try:
            body = response.json()
        except ValueError:
            body = response.text
    return {"id": rid, "status": response.status_code, "headers": headers, "body": body}


def _failed_dependency(rid: str) -> dict[str, Any]:
    return {
        "id": rid,
        "status": 424,
        "headers": {"content-type": "application/json"},
        "body": {"error": {"code": "FailedDependency", "message": "Failed dependency."}},
    }
