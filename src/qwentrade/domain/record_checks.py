"""The checks of the stored values: the converters and validators the row values of
``records.py`` and ``trading_records.py`` share (aware UTC times, Decimals, one of a set
of names, non-empty text, JSON objects), and the query-argument checks every repository
implementation shares.
"""

from __future__ import annotations

import enum
import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import require_utc
from qwentrade.domain.numbers import to_decimal


def _utc(field: str):
    return lambda value: require_utc(value, field)


def _utc_or_none(field: str):
    return lambda value: None if value is None else require_utc(value, field)


# -- validation helpers ------------------------------------------------------------------


def _one_of(field: str, allowed: tuple[str, ...]):
    def check(_instance: object, _attribute: object, value: object) -> None:
        if value not in allowed:
            raise InvalidInput(field, f"{value!r} is not one of {', '.join(allowed)}")

    return check


def _decimal(field: str):
    return lambda value: to_decimal(value, field)


def _decimal_or_none(field: str):
    return lambda value: None if value is None else to_decimal(value, field)


def _text(field: str):
    def check(_instance: object, _attribute: object, value: object) -> None:
        if not isinstance(value, str) or not value.strip():
            raise InvalidInput(field, f"must be a non-empty string, got {value!r}")

    return check


def _json_object(value: object) -> dict[str, Any]:
    """A JSON-normal copy (what a database gives back), or InvalidInput naming ``details``."""
    try:
        normal = json.loads(json.dumps(value, default=_json_default, allow_nan=False))
    except (TypeError, ValueError) as e:
        raise InvalidInput("details", f"must be JSON-serialisable: {e}") from None
    if not isinstance(normal, dict):
        raise InvalidInput("details", f"must be a JSON object, got {type(value).__name__}")
    return normal


def _json_default(value: object) -> object:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return require_utc(value, "details").isoformat()
    if isinstance(value, enum.Enum):
        return value.name
    raise TypeError(f"{type(value).__name__} is not JSON-serialisable")


# -- query arguments (shared by every repository implementation) --------------------------


def check_span(
    start: datetime | None, end: datetime | None
) -> tuple[datetime | None, datetime | None]:
    """``(start, end)`` as aware UTC (None kept); naive times raise naming the field."""
    start = None if start is None else require_utc(start, "start")
    end = None if end is None else require_utc(end, "end")
    if start is not None and end is not None and end < start:
        raise InvalidInput("end", f"{end.isoformat()} is before start {start.isoformat()}")
    return start, end


def check_page(limit: int | None, offset: int) -> tuple[int | None, int]:
    """``(limit, offset)`` checked: limit None (all) or >= 0, offset >= 0."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise InvalidInput("limit", f"must be a non-negative integer or None, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise InvalidInput("offset", f"must be a non-negative integer, got {offset!r}")
    return limit, offset


def check_text(value: object, field: str) -> str:
    """``value`` as a non-empty string, or InvalidInput naming ``field``."""
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, f"must be a non-empty string, got {value!r}")
    return value
