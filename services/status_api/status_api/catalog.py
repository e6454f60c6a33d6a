"""Enumerations documented in the OpenAPI schema: every value with its meaning and its fix.

A `DocumentedEnum` subclass registers `{value: Entry}`; its JSON Schema then carries a Markdown
table in `description` and the same data as `x-enum-descriptions`, so API clients (and the
generated docs) can show an admin what a status means and what to do about it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from pydantic import GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


@dataclass(frozen=True)
class Entry:
    meaning: str
    fix: str = ""
    label: str = ""


_ENTRIES: dict[type[StrEnum], dict[str, Entry]] = {}


def document(enum: type[StrEnum], entries: dict[str, Entry]) -> None:
    missing = {m.value for m in enum} ^ set(entries)
    if missing:
        raise ValueError(f"{enum.__name__}: undocumented or unknown values {sorted(missing)}")
    _ENTRIES[enum] = entries


def entry(value: StrEnum) -> Entry:
    return _ENTRIES[type(value)][value.value]


def entries(enum: type[StrEnum]) -> dict[str, Entry]:
    return _ENTRIES[enum]


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


class DocumentedEnum(StrEnum):
    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        schema = handler(core_schema)
        target = handler.resolve_ref_schema(schema)
        docs = _ENTRIES.get(cls, {})
        head = (cls.__doc__ or cls.__name__).strip().splitlines()[0]
        rows = [
            f"| `{v}` | {_cell(e.label)} | {_cell(e.meaning)} | {_cell(e.fix)} |"
            for v, e in docs.items()
        ]
        target["description"] = "\n".join(
            [head, "", "| value | row | meaning | fix |", "|---|---|---|---|", *rows]
        )
        target["x-enum-descriptions"] = {
            v: {"label": e.label, "meaning": e.meaning, "fix": e.fix} for v, e in docs.items()
        }
        return schema


def catalog_json(enum: type[StrEnum]) -> list[dict[str, Any]]:
    return [
        {"value": v, "label": e.label, "meaning": e.meaning, "fix": e.fix}
        for v, e in entries(enum).items()
    ]
