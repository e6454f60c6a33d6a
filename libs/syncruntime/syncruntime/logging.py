"""Structured JSON logs: one object per line with tenant/user/link/command context.

Secrets never reach a log: known secret-bearing keys are masked before formatting.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import sys
from typing import Any

CONTEXT_KEYS = ("tenant", "user", "link_id", "command_id", "mailbox", "topic", "partition")
_SECRET_HINTS = ("secret", "password", "token", "private_key", "authorization", "api_key")
_RESERVED = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


def _mask(key: str, value: Any) -> Any:
    if any(hint in key.lower() for hint in _SECRET_HINTS):
        return "***"
    return value


class JsonFormatter(logging.Formatter):
    def __init__(self, service: str) -> None:
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
            "level": record.levelname.lower(),
            "service": self.service,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RESERVED and not key.startswith("_"):
                entry[key] = _mask(key, value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str)


def configure_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # aiokafka is chatty at INFO about every rebalance step; httpx logs every request at INFO
    # (thousands a minute under load): both only from WARNING up unless DEBUG is asked for.
    quiet = logging.DEBUG if level.upper() == "DEBUG" else logging.WARNING
    logging.getLogger("aiokafka").setLevel(quiet)
    logging.getLogger("httpx").setLevel(quiet)
