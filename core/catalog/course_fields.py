"""What a creator types for a course's field (``/course edit CODE FIELD VALUE`` or the
dashboard's course form) → the value CatalogService.edit_course takes; one reading for both."""

from __future__ import annotations

from core.catalog.money import parse_money
from core.errors import InvalidInput
from core.i18n import msg


def course_field_value(field: str, text: str) -> object:
    """price → Money; points → a points price (None: not for points: off, none, 0 or empty);
    completion → the points for finishing it; title and description as typed. InvalidInput
    names the field."""
    if field == "price":
        return parse_money(text)
    if field in ("points", "completion"):
        number = text.strip().lower()
        if field == "points" and number in ("off", "none", "0", ""):
            return None
        if (
            not (number.isascii() and number.isdigit())
            or len(number) > 9
            or (field == "points" and int(number) <= 0)
        ):
            raise InvalidInput(msg("{field} takes a whole number of points.", field=field), field=field)
        return int(number)
    return text
