"""The `syncline` command: one entry point, one subcommand per service.

Each subcommand names a `module:function` taking the remaining argv; modules are imported only when
their subcommand runs, so one service's dependencies never load in another's process.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

COMMANDS: dict[str, tuple[str, str]] = {
    "reconciler": ("reconciler.main:main", "run the reconciler (sync rules)"),
    "status-api": ("status_api.main:main", "run the status REST API"),
    "exchange-connector": ("exchange_connector.main:main", "run the Exchange connector"),
    "salesforce-connector": ("salesforce_connector.main:main", "run the Salesforce connector"),
    "migrate": ("syncruntime.postgres.migrate:main", "apply database migrations"),
    "topics": ("syncruntime.kafka.topics:main", "create the Kafka topics"),
    "admin": ("status_api.admin:main", "tenant bootstrap: create-tenant, keys"),
    "sim": ("simulators.cli:main", "run a simulator: sim graph|salesforce|ews --port P"),
    "schemas": ("syncmodel.export_schemas:main", "export the bus message JSON Schemas"),
    "dev": ("syncline_cli.dev:main", "simulators + every service + a demo tenant (make run)"),
}


def _usage() -> str:
    lines = ["usage: syncline <command> [options]", "", "commands:"]
    lines += [f"  {name:<22}{help_}" for name, (_, help_) in COMMANDS.items()]
    return "\n".join(lines)


def _load(target: str) -> Callable[[Sequence[str]], int]:
    module_name, func_name = target.split(":")
    func: Callable[[Sequence[str]], int] = getattr(importlib.import_module(module_name), func_name)
    return func


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help", "help"):
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in COMMANDS:
        print(f"syncline: unknown command {name!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    return _load(COMMANDS[name][0])(rest)


if __name__ == "__main__":
    sys.exit(main())
