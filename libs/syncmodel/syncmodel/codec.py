"""Decoding of bus messages with one clear error type for anything that is not a valid message."""

from __future__ import annotations

from typing import TypeVar

from pydantic import BaseModel, TypeAdapter, ValidationError

from syncmodel.messages import ChangesMessage

M = TypeVar("M", bound=BaseModel)

_changes_adapter: TypeAdapter[ChangesMessage] = TypeAdapter(ChangesMessage)


class InvalidMessage(ValueError):
    """A message that cannot be decoded; it goes to the dead-letter topic, never crashes a loop."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def _explain(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:5]:
        loc = ".".join(str(p) for p in err["loc"]) or "<root>"
        parts.append(f"{loc}: {err['msg']}")
    more = exc.error_count() - 5
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")


def decode(model: type[M], raw: bytes | str | None) -> M:
    if raw is None:
        raise InvalidMessage("empty message (null value)")
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        raise InvalidMessage(f"not a valid {model.__name__}: {_explain(exc)}") from exc


def decode_changes(raw: bytes | str | None) -> ChangesMessage:
    """Decode a message of `syncline.changes` (change event, outcome or connector status)."""
    if raw is None:
        raise InvalidMessage("empty message (null value)")
    try:
        return _changes_adapter.validate_json(raw)
    except ValidationError as exc:
        raise InvalidMessage(f"not a valid syncline.changes message: {_explain(exc)}") from exc
