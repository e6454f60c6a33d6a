"""Graph's error body (protocols.md A9) and the one exception the simulator raises to produce it.

`{"error": {"code", "message", "innerError": {"date", "request-id", "client-request-id"}}}`.
Outlook endpoints use EWS-style codes (`ErrorItemNotFound`, `ErrorIrresolvableConflict`, ...).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response


class GraphError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        retry_after: int | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = dict(headers or {})
        if retry_after is not None:
            self.headers["Retry-After"] = str(retry_after)


def not_found(what: str = "The specified object was not found in the store.") -> GraphError:
    return GraphError(404, "ErrorItemNotFound", what)


def bad_request(message: str, code: str = "ErrorInvalidRequest") -> GraphError:
    return GraphError(400, code, message)


def error_json(
    status: int, code: str, message: str, request_id: str, client_request_id: str | None
) -> bytes:
    inner: dict[str, str] = {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "request-id": request_id,
        "client-request-id": client_request_id or request_id,
    }
    if status == 429:
        inner.update({"code": "429", "status": "429", "message": "Please retry after"})
    return json.dumps({"error": {"code": code, "message": message, "innerError": inner}}).encode()


def _ids(request: Request) -> tuple[str, str | None]:
    rid = getattr(request.state, "request_id", None) or str(uuid.uuid4())
    return rid, request.headers.get("client-request-id")


def error_response(request: Request, err: GraphError) -> Response:
    rid, crid = _ids(request)
    body = error_json(err.status, err.code, err.message, rid, crid)
    return Response(body, err.status, headers=err.headers, media_type="application/json")


async def graph_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, GraphError)
    return error_response(request, exc)


async def validation_error_handler(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    first = exc.errors()[0] if exc.errors() else {"msg": "invalid request"}
    return error_response(request, bad_request(f"Invalid request: {first.get('msg')}"))


def injected_error_body(status: int) -> tuple[bytes, str]:
    """Bodies for `/_sim/faults` injected errors, in Graph's shape."""
    code = {429: "TooManyRequests", 503: "ServiceUnavailable", 504: "GatewayTimeout"}.get(
        status, "generalException"
    )
    message = "Please retry again later." if status == 429 else "Injected failure."
    return error_json(status, code, message, str(uuid.uuid4()), None), "application/json"
