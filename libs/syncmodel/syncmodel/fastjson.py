"""The JSON of a model, written by orjson: the very bytes `model.model_dump_json()` writes.

The reconciler writes the JSON of every command it queues (the outbox) and of every link state it
stores, ~3.5 KB a change. Pydantic's serializer walks each value through the model's schema
(canonical content is `Any`-typed, enums go through their Python-level `.value`); orjson writes
the same plain data three to four times faster. `dump_json` gives pydantic's bytes exactly:
fields in declaration order under their serialization names (the alias where the model
serializes by alias, as bus messages do), enums as their values, datetimes in ISO 8601 with `Z`
for a zero offset, tuples as arrays, text unescaped UTF-8.

Where the two could differ, pydantic writes: a model whose fields could hold a float (they
agree on the floats tried, `2.5e-7` or `1e+16`, but floats are outside what the tests cover, and
no synced model needs them fast), a set, a timedelta or another type orjson formats otherwise,
one with computed or excluded fields, custom serializers or extra values, and any value orjson
refuses (an integer over 64 bits). Property tests compare both byte for byte. One difference is
left: an offset with seconds (the local mean time of a zone before it adopted standard time,
~1920 at the latest) can't be written in ISO 8601; pydantic drops the seconds and orjson rounds
them, so such a historical instant reads back seconds apart either way.
"""

from __future__ import annotations

import datetime as dt
import decimal
import types
import typing
from typing import Any

import orjson
from pydantic import BaseModel

_OPTIONS = orjson.OPT_UTC_Z
_UNSAFE_TYPES: tuple[type, ...] = (
    float,
    decimal.Decimal,
    set,
    frozenset,
    bytes,
    dt.timedelta,
    dt.time,
    complex,
)
"""Types orjson may write differently from pydantic or not at all (a model with fields that may
hold one of them takes pydantic's serializer)."""


class _Unsafe(TypeError):
    """A value orjson must not write (orjson re-raises it as its own error)."""


_Plan = tuple[tuple[str, str], ...] | None
"""None: the fields are written as they are; else (field name, key) pairs in declaration order."""
_plans: dict[type[BaseModel], _Plan | str] = {}
"""Per model class: its plan, or why orjson must not write it."""


def dump_json(model: BaseModel) -> bytes:
    """`model.model_dump_json().encode()`, written by orjson where that gives the same bytes."""
    try:
        return orjson.dumps(model, default=_fields, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: unsafe model or value, see the module docstring
        return model.model_dump_json().encode()


def _fields(value: Any) -> Any:
    """orjson's hook for what it can't write itself: a model becomes its fields."""
    plan = _plans.get(type(value), _UNKNOWN)
    if plan is None and not value.__pydantic_extra__:
        return value.__dict__  # the common case, first: a model whose fields keep their names
    if plan is _UNKNOWN:
        if not isinstance(value, BaseModel):
            raise _Unsafe(type(value).__name__)
        plan = _plans[type(value)] = _plan(type(value))
        return _fields(value)
    if isinstance(plan, str):
        raise _Unsafe(plan)
    if plan is None or value.__pydantic_extra__:  # a plan of None got here: it holds extras
        raise _Unsafe(f"{type(value).__name__} holds extra fields")
    fields = value.__dict__
    return {key: fields[name] for name, key in plan}


_UNKNOWN = "not planned yet"


def _plan(model: type[BaseModel]) -> _Plan | str:
    """How orjson writes a model's fields, or why it must not."""
    decorators = model.__pydantic_decorators__
    if model.model_computed_fields or decorators.field_serializers or decorators.model_serializers:
        return f"{model.__name__} serializes with code of its own"
    by_alias = bool(model.model_config.get("serialize_by_alias"))
    pairs: list[tuple[str, str]] = []
    for name, info in model.model_fields.items():
        if info.exclude or _may_hold_unsafe(info.annotation):
            return f"{model.__name__}.{name} is excluded or may hold a type orjson writes otherwise"
        alias = info.serialization_alias or info.alias
        pairs.append((name, alias if by_alias and alias else name))
    if all(name == key for name, key in pairs):
        return None
    return tuple(pairs)


def _may_hold_unsafe(annotation: Any) -> bool:
    if annotation is Any:
        return False  # JSON-mode data by the core's convention (canonical content)
    if isinstance(annotation, type):
        return issubclass(annotation, _UNSAFE_TYPES)
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        return any(_may_hold_unsafe(arg) for arg in typing.get_args(annotation))
    return False
