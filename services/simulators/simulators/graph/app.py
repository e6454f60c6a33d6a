"""The Graph simulator's app factory and `serve(args)` for `syncline sim graph`."""

from __future__ import annotations

import argparse
from typing import Any

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from starlette.types import ASGIApp

from simulators.common.faults import FaultMiddleware, Scope, SimControl
from simulators.common.server import serve as serve_app
from simulators.common.tls import ServerTLS, load_or_create_tls
from simulators.graph import (
    auth,
    batch,
    contacts,
    control,
    delta,
    events,
    subscriptions,
    users,
)
from simulators.graph.errors import (
    GraphError,
    graph_error_handler,
    injected_error_body,
    validation_error_handler,
)
from simulators.graph.gate import GraphGate, Throttle, mailbox_segment
from simulators.graph.seed import ensure_demo_app, make_certificate, seed
from simulators.graph.store import GraphStore


def create_app(tls: ServerTLS | None = None, seed_value: int | None = 1, reps: int = 3) -> FastAPI:
    store = GraphStore()
    book = auth.TokenBook()
    deltas = delta.DeltaBook()
    throttle = Throttle()
    certificate = make_certificate()
    notifier = subscriptions.Notifier(store)
    store.on_change = notifier.on_change
    ensure_demo_app(store, certificate)
    if seed_value is not None:
        seed(store, seed_value, reps)

    def subject_of(scope: Scope) -> str | None:
        segment = mailbox_segment(scope.get("path", ""))
        user = store.find_user(segment) if segment else None
        return user.user_principal_name.lower() if user else segment

    sim = SimControl(subject_of=subject_of, error_body=injected_error_body, counted_prefix="/v1.0/")
    app = FastAPI(
        title="Syncline Microsoft Graph simulator",
        docs_url="/_sim/docs",
        openapi_url="/_sim/openapi.json",
    )
    app.state.store = store
    app.state.tokens = book
    app.state.deltas = deltas
    app.state.throttle = throttle
    app.state.sim = sim
    app.state.notifier = notifier
    app.add_exception_handler(GraphError, graph_error_handler)
    app.add_exception_handler(RequestValidationError, validation_error_handler)
    # Hot Outlook paths first: routes are matched in order. Delta before CRUD, so that
    # `/contacts/delta` is not read as `/contacts/{id}`.
    app.include_router(delta.build_router(deltas, store))
    app.include_router(contacts.build_router())
    app.include_router(events.build_router())
    app.include_router(users.build_router(store))
    app.include_router(batch.build_router())
    app.include_router(subscriptions.build_router(notifier))
    app.include_router(auth.build_router(store, book))
    app.include_router(sim.router)
    app.include_router(control.build_router(store, book, deltas, throttle, certificate, tls))

    # Outermost first: faults/counters see every request, then Graph's own checks.
    def gate_factory(inner: ASGIApp) -> Any:
        return GraphGate(inner, store, book, throttle)

    app.add_middleware(_Wrap, factory=gate_factory)
    app.add_middleware(FaultMiddleware, control=sim)
    return app


class _Wrap:
    """Adapter so a middleware needing extra constructor state can be added with add_middleware."""

    def __init__(self, app: ASGIApp, factory: Any) -> None:
        self._inner = factory(app)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self._inner(scope, receive, send)


def serve(args: argparse.Namespace) -> None:
    tls = None if args.http else load_or_create_tls(args.tls_dir)
    app = create_app(tls, seed_value=args.seed if args.seed is not None else 1, reps=args.reps)
    scheme = "http" if tls is None else "https"
    print(f"Graph simulator on {scheme}://{args.host}:{args.port} (credentials: /_sim/credentials)")
    serve_app(app, args.host, args.port, tls)
