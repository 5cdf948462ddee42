"""The argument checks of TradingService that need nothing but the value: non-empty text,
an idempotency key, a close reason, a side, a positive number, a trigger price on the
instrument's tick. Each raises ``InvalidInput`` naming the field."""

from __future__ import annotations

from decimal import Decimal

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.numbers import to_decimal
from qwentrade.domain.plans import Side, normalize_price

MAX_REASON = 200


def _text(value: object, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise InvalidInput(field, f"must be a non-empty string, got {value!r}")
    return value


def _check_key(key: object) -> str | None:
    if key is None:
        return None
    text = _text(key, "key")
    if len(text) > 150:
        raise InvalidInput("key", f"must be at most 150 characters, got {len(text)}")
    return text


def _reason(reason: object) -> str:
    text = _text(reason, "reason").strip()
    if len(text) > MAX_REASON:
        raise InvalidInput("reason", f"must be at most {MAX_REASON} characters")
    return text


def _side(side: object) -> Side:
    if isinstance(side, Side):
        return side
    if not isinstance(side, str):
        raise InvalidInput("side", f"{side!r} is not LONG or SHORT")
    return Side.parse(side)


def _positive(value: object, field: str) -> Decimal:
    number = to_decimal(value, field)
    if number <= 0:
        raise InvalidInput(field, f"must be positive, got {number}")
    return number


def _trigger(instrument: Instrument, value: object, field: str) -> Decimal | None:
    if value is None:
        return None
    return normalize_price(instrument, _positive(value, field), field)
