"""Write the JSON Schemas of every bus message to `libs/syncmodel/schemas/` (checked in).

Run `python -m syncmodel.export_schemas` after changing a model; a test fails on drift.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from syncmodel.messages import ALL_MESSAGES

SCHEMA_DIR = Path(__file__).resolve().parent.parent / "schemas"


def render() -> dict[str, str]:
    out: dict[str, str] = {}
    for name, model in ALL_MESSAGES.items():
        schema: dict[str, Any] = model.model_json_schema(by_alias=True, mode="serialization")
        schema["$id"] = f"https://syncline.dev/schemas/{name}.json"
        out[f"{name}.json"] = json.dumps(schema, indent=2, sort_keys=True) + "\n"
    return out


def main(argv: Sequence[str] = ()) -> int:
    SCHEMA_DIR.mkdir(exist_ok=True)
    for filename, text in render().items():
        (SCHEMA_DIR / filename).write_text(text)
    print(f"wrote {len(ALL_MESSAGES)} schemas to {SCHEMA_DIR}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
