"""Exact decimal arithmetic for prices and sizes.

Every price and size that reaches an order is rounded by :func:`round_to_step`, the one
rounding function of the system. Prices round to the instrument's tick size; sizes round
*down* to its lot size so that rounding can never buy more than asked for.
"""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_UP, ROUND_UP, Decimal, InvalidOperation

from qwentrade.domain.errors import InvalidInput

ROUNDING_MODES = {"down": ROUND_DOWN, "up": ROUND_UP, "nearest": ROUND_HALF_UP}


def to_decimal(value: object, field: str) -> Decimal:
    """Return ``value`` as a finite ``Decimal``; floats go through ``str`` so 0.1 stays 0.1."""
    if isinstance(value, bool):
        raise InvalidInput(field, f"expected a number, got {value!r}")
    try:
        if isinstance(value, Decimal):
            result = value
        elif isinstance(value, int | str):
            result = Decimal(value)
        elif isinstance(value, float):
            result = Decimal(repr(value))
        else:
            raise InvalidInput(field, f"expected a number, got {type(value).__name__}")
    except InvalidOperation:
        raise InvalidInput(field, f"{value!r} is not a number") from None
    if not result.is_finite():
        raise InvalidInput(field, f"{value!r} is not a finite number")
    return result


def round_to_step(value: Decimal, step: Decimal, mode: str = "nearest") -> Decimal:
    """Round ``value`` to a whole multiple of ``step`` (``mode``: nearest, down or up).

    The result carries the step's exponent, so ``round_to_step(Decimal("1.23456"),
    Decimal("0.01"))`` is ``Decimal("1.23")``, ready to be sent as a string.
    """
    if step <= 0:
        raise InvalidInput("step", f"must be positive, got {step}")
    units = (value / step).quantize(Decimal(1), rounding=ROUNDING_MODES[mode])
    return (units * step).quantize(step)


def round_to_tick(price: Decimal, tick_size: Decimal, mode: str = "nearest") -> Decimal:
    """Round a price to the instrument's tick size (nearest tick by default)."""
    return round_to_step(price, tick_size, mode)


def round_to_lot(size: Decimal, lot_size: Decimal) -> Decimal:
    """Round a size in contracts down to the instrument's lot size: never more than asked."""
    return round_to_step(size, lot_size, "down")


def is_multiple(value: Decimal, step: Decimal) -> bool:
    """True when ``value`` is a whole multiple of ``step``."""
    return (value / step) == (value / step).to_integral_value()
