"""The EWS simulator's app factory and `serve(args)` for `syncline sim ews`.

`POST /EWS/Exchange.asmx` checks Basic or NTLM credentials (401 + `WWW-Authenticate`, B2; auth.py),
the `RequestServerVersion`, the simulator's throttling switch (`ErrorServerBusy`
with `BackOffMilliseconds`, B5) and `ExchangeImpersonation` (B4), then runs the operation.
"""

from __future__ import annotations

import argparse
from collections import Counter

from fastapi import FastAPI, Request, Response

from simulators.common.faults import FaultMiddleware, Scope, SimControl
from simulators.common.server import serve as serve_app
from simulators.common.tls import DEFAULT_HOSTNAMES, ServerTLS, load_or_create_tls
from simulators.ews import autodiscover, control
from simulators.ews.auth import HttpAuth
from simulators.ews.context import Context
from simulators.ews.operations import OPERATIONS
from simulators.ews.soap import (
    ACCEPTED_VERSIONS,
    Element,
    EwsFault,
    M,
    fault,
    local,
    parse_envelope,
    server_busy,
    t,
)
from simulators.ews.store import EwsStore, Mailbox

EWS_PATH = "/EWS/Exchange.asmx"
HOSTNAMES = (*DEFAULT_HOSTNAMES, "mail.contoso-sim.example")
"""The server certificate's names: the on-premises server's own name as well, which also gives
it its own certificate files in a shared `--tls-dir` (load_or_create_tls names them after the
hostnames), so it can start at the same moment as the Graph and Salesforce simulators without
either overwriting the other's key between its certificate and key writes."""
XML = "text/xml; charset=utf-8"


def _impersonated(store: EwsStore, header: Element | None) -> Mailbox | None:
    if header is None:
        return None
    version = header.find(t("RequestServerVersion"))
    if version is not None and version.get("Version") not in ACCEPTED_VERSIONS:
        raise EwsFault("ErrorInvalidServerVersion", "The specified server version is invalid.")
    sid = header.find(f"{t('ExchangeImpersonation')}/{t('ConnectingSID')}")
    if sid is None:
        return None
    address = next((c.text for c in sid if isinstance(c.tag, str)), None) or ""
    mailbox = store.find(address.strip())
    if mailbox is None:
        raise EwsFault(
            "ErrorNonExistentMailbox",
            f"The SMTP address has no mailbox associated with it: {address}",
        )
    if mailbox.smtp.lower() not in store.impersonation:
        raise EwsFault(
            "ErrorImpersonateUserDenied",
            "The account does not have permission to impersonate the requested user.",
        )
    return mailbox


def create_app(tls: ServerTLS | None = None, seed_value: int | None = 1, reps: int = 3) -> FastAPI:
    store = EwsStore()
    operations: Counter[str] = Counter()
    if seed_value is not None:
        control.seed(store, seed_value, reps)
    auth = HttpAuth(store)

    def subject_of(scope: Scope) -> str | None:
        for name, value in scope.get("headers", []):
            if name == b"x-anchormailbox":
                return bytes(value).decode().lower()
        return None

    def injected(status: int) -> tuple[bytes, str]:
        f = sim.faults
        seconds = (f.burst.retry_after if f.burst else None) or f.error_retry_after or 0
        return fault(server_busy(int(seconds * 1000))), XML

    sim = SimControl(subject_of=subject_of, error_body=injected, counted_prefix="/EWS/")
    app = FastAPI(
        title="Syncline EWS simulator", docs_url="/_sim/docs", openapi_url="/_sim/openapi.json"
    )
    app.state.store = store

    def ews_url(request: Request) -> str:
        return str(request.base_url).rstrip("/") + EWS_PATH

    @app.post(EWS_PATH)
    async def ews(request: Request) -> Response:
        if (challenge := auth.check(request)) is not None:
            return challenge
        raw = await request.body()
        try:
            header, operation = parse_envelope(raw)
            name = local(operation.tag)
            if not str(operation.tag).startswith(f"{{{M}}}") or name not in OPERATIONS:
                raise EwsFault("ErrorInvalidRequest", f"The request is invalid: {name}.")
            with store.lock:
                operations[name] += 1
                mailbox = _impersonated(store, header)
                if store.throttle_left > 0:
                    store.throttle_left -= 1
                    raise server_busy(store.throttle_back_off_ms)
                body = OPERATIONS[name](Context(store, mailbox), operation)
        except EwsFault as exc:
            return Response(fault(exc), status_code=500, media_type=XML)
        return Response(body, media_type=XML)

    @app.post("/autodiscover/autodiscover.xml")
    async def pox(request: Request) -> Response:
        if (challenge := auth.check(request)) is not None:
            return challenge
        with store.lock:
            body = autodiscover.pox(store, await request.body(), ews_url(request))
        return Response(body, media_type="text/xml; charset=utf-8")

    @app.post("/autodiscover/autodiscover.svc")
    async def soap_autodiscover(request: Request) -> Response:
        if (challenge := auth.check(request)) is not None:
            return challenge
        try:
            with store.lock:
                body = autodiscover.get_user_settings(store, await request.body(), ews_url(request))
        except EwsFault as exc:
            return Response(fault(exc), status_code=500, media_type=XML)
        return Response(body, media_type=XML)

    app.include_router(sim.router)
    app.include_router(control.build_router(store, operations, tls))
    app.add_middleware(FaultMiddleware, control=sim)
    return app


def serve(args: argparse.Namespace) -> None:
    tls = None if args.http else load_or_create_tls(args.tls_dir, HOSTNAMES)
    app = create_app(tls, seed_value=args.seed if args.seed is not None else 1, reps=args.reps)
    scheme = "http" if tls is None else "https"
    print(
        f"EWS simulator on {scheme}://{args.host}:{args.port}{EWS_PATH}"
        " (credentials: /_sim/credentials)"
    )
    serve_app(app, args.host, args.port, tls)
