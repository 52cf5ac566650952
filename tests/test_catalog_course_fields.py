"""core/catalog/course_fields.py: what a creator types for a course's field, read once for
/course edit and the dashboard."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.catalog.course_fields import course_field_value
from core.catalog.money import Money
from core.errors import InvalidInput


def test_each_field_is_read_as_edit_course_takes_it() -> None:
    assert course_field_value("price", "19.99 USD") == Money("USD", 1999)
    assert course_field_value("points", "300") == 300
    assert [course_field_value("points", off) for off in ("off", "none", "0", "", " NONE ")] == [None] * 5
    assert course_field_value("completion", "0") == 0
    assert course_field_value("title", "Python") == "Python"


@pytest.mark.parametrize(
    ("field", "text"), [("points", "-5"), ("points", "lots"), ("completion", ""), ("points", "1" * 10)]
)
def test_a_bad_number_is_refused_naming_its_field(field: str, text: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        course_field_value(field, text)
    assert caught.value.field == field


@given(st.text(max_size=20))
def test_any_text_is_a_value_or_a_refusal(text: str) -> None:
    for field in ("points", "completion", "price"):
        try:
            value = course_field_value(field, text)
        except InvalidInput as refused:
            assert refused.field in (field, "price", "currency")
        else:
            assert value is None or isinstance(value, int | Money)
