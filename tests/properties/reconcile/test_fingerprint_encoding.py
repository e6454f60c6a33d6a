"""Fingerprints keep their bytes: the fast encoder (orjson) writes exactly what the standard
encoder wrote before it, so links stored by earlier versions still compare equal."""

from __future__ import annotations

import hashlib
import json
import types
import typing
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from reconcile.normalize import canonical_json, fingerprint, fingerprint_of, normalize
from syncmodel import Contact, Event, records

_STANDARD = json.JSONEncoder(sort_keys=True, separators=(",", ":"), default=str)

texts = st.text(max_size=30) | st.text(st.characters(max_codepoint=0x9F), max_size=30)
"""Any text, and text of control characters, DEL and the first non-ASCII ones (where the
encoders' escaping differs)."""
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | texts,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=1000)
@given(st.dictionaries(texts, json_values, max_size=12))
def test_canonical_json_is_the_standard_encoding(canonical: dict[str, Any]) -> None:
    """ASCII or not, nested or flat, small or beyond 64-bit integers: the same bytes."""
    assert canonical_json(canonical) == _STANDARD.encode(canonical).encode()


@settings(max_examples=200)
@given(
    st.builds(
        Contact,
        first_name=st.text(max_size=20) | st.none(),
        last_name=st.text(min_size=1, max_size=20),
        email=st.emails() | st.none(),
        company=st.text(max_size=20) | st.none(),
        notes=st.text(max_size=60) | st.none(),
    )
)
def test_fingerprint_of_a_contact_is_the_standard_hash(contact: Contact) -> None:
    expected = hashlib.sha256(_STANDARD.encode(normalize(contact)).encode()).hexdigest()
    assert fingerprint(contact) == expected == fingerprint_of(normalize(contact))


def _annotation_holds_float(annotation: Any) -> bool:
    if annotation is float:
        return True
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return False  # checked on its own below
    if isinstance(annotation, types.UnionType) or typing.get_origin(annotation) is not None:
        return any(_annotation_holds_float(arg) for arg in typing.get_args(annotation))
    return False


def test_record_models_hold_no_float() -> None:
    """orjson's float notation differs from the standard one (`2.5e-7`): canonical content may
    hold integers only, and does because no record field is a float."""
    models = [
        value
        for value in vars(records).values()
        if isinstance(value, type) and issubclass(value, BaseModel) and value is not BaseModel
    ]
    assert Contact in models
    assert Event in models
    for model in models:
        for name, info in model.model_fields.items():
            assert not _annotation_holds_float(info.annotation), f"{model.__name__}.{name}"
