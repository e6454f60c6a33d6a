"""`joined`: a text array as one parameter; what can't be told apart is refused."""

from __future__ import annotations

import pytest
from syncruntime.postgres import joined


def test_values_are_joined_by_the_record_separator_and_none_by_the_unit_separator() -> None:
    assert joined([]) == ""
    assert joined(["a"]) == "a"
    assert joined(["a", None, '{"x": 1}']) == 'a\x1e\x1f\x1e{"x": 1}'


@pytest.mark.parametrize(
    "values",
    [[""], ["a", ""], ["a\x1eb"], ["\x1f"], ["a", "b\x1e"]],
    ids=["empty alone", "empty", "separator", "null mark", "separator at the end"],
)
def test_a_value_that_could_not_be_told_apart_is_refused(values: list[str | None]) -> None:
    with pytest.raises(ValueError, match="joined"):
        joined(values)
