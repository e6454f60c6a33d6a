"""The base of the core's own value types: frozen pydantic models with a cheap shallow copy.

Every decision derives several links from one another (`with_side`, `with_pending`, ...), each a
`model_copy(update=...)`. Pydantic's shallow copy goes through `copy.copy` three times per
instance; for these models (frozen, `extra="forbid"`, no private attributes) a copy is just a
new `__dict__` and field set, built here directly. Like pydantic's, it does not validate the
update: the core only passes values it built itself (validation happens at the bus boundary).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Self

from pydantic import BaseModel, ConfigDict

_set = object.__setattr__


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    def model_copy(self, *, update: Mapping[str, Any] | None = None, deep: bool = False) -> Self:
        """`BaseModel.model_copy`, without its generic per-attribute `copy.copy` calls."""
        if deep:
            return super().model_copy(update=update, deep=True)
        copied = self.__class__.__new__(self.__class__)
        values = dict(self.__dict__)
        fields_set = set(self.__pydantic_fields_set__)
        if update:
            values.update(update)
            fields_set.update(update)
        _set(copied, "__dict__", values)
        _set(copied, "__pydantic_fields_set__", fields_set)
        _set(copied, "__pydantic_extra__", None)
        _set(copied, "__pydantic_private__", None)
        return copied
