"""`syncline sim graph|salesforce|ews`: run a simulator as an HTTPS server (dev/test only).

HTTPS with a persistent local CA is the default because real clients (MSAL, Salesforce clients)
refuse plain-HTTP authorities; `--http` serves plain HTTP. The CA certificate and the demo
tenant's connection details are published at `GET /_sim/credentials`.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence
from pathlib import Path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="syncline sim", description=__doc__)
    sub = parser.add_subparsers(dest="simulator", required=True)
    for name in ("graph", "salesforce", "ews"):
        p = sub.add_parser(name, help=f"run the {name} simulator")
        p.add_argument("--port", type=int, required=True)
        p.add_argument("--host", default="127.0.0.1")
        p.add_argument("--http", action="store_true", help="plain HTTP instead of HTTPS")
        p.add_argument("--tls-dir", type=Path, default=None, help="where the local CA lives")
        p.add_argument("--seed", type=int, default=None, help="seed demo data (random seed)")
        p.add_argument("--reps", type=int, default=3, help="demo reps to seed")
    return parser


def main(argv: Sequence[str]) -> int:
    args = _parser().parse_args(list(argv))
    if args.simulator == "graph":
        from simulators.graph.app import serve

        serve(args)
        return 0
    if args.simulator == "salesforce":
        # The Salesforce simulator exposes `serve(args)` in its own package.
        module = importlib.import_module("simulators.salesforce.app")
        result = module.serve(args)
        return int(result or 0)
    if args.simulator == "ews":
        from simulators.ews.app import serve as serve_ews

        serve_ews(args)
        return 0
    print(f"syncline sim {args.simulator}: unknown simulator", file=sys.stderr)
    return 2
