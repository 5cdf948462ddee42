"""A position's side, its stop-loss/take-profit plans, and size/price rounding.

Sizes are in contracts, rounded DOWN to the lot size, and prices to the nearest tick, by
:func:`normalize_size` / :func:`normalize_price` (both through ``domain.numbers``). Plans
are ordered so the one the price would reach first comes first.
"""

from __future__ import annotations

import enum
from decimal import Decimal

import attrs

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.numbers import to_decimal


class Side(enum.Enum):
    """A position's side; the value is OKX's ``posSide``."""

    LONG = "long"
    SHORT = "short"

    @property
    def sign(self) -> int:
        """+1 for LONG, -1 for SHORT: PnL = sign * (exit - entry) * size * ct_val."""
        return 1 if self is Side.LONG else -1

    @property
    def opposite(self) -> Side:
        return Side.SHORT if self is Side.LONG else Side.LONG

    @classmethod
    def parse(cls, text: str) -> Side:
        """``long``/``short`` in any case. Not buy/sell: a sell may open a SHORT or close a LONG."""
        key = str(text).strip().lower()
        for member in cls:
            if key == member.value:
                return member
        raise InvalidInput("side", f"{text!r} is not LONG or SHORT: give long or short")


class PlanKind(enum.Enum):
    STOP_LOSS = "stop_loss"
    TAKE_PROFIT = "take_profit"


def normalize_size(instrument: Instrument, value: object, field: str = "size") -> Decimal:
    """``value`` in contracts rounded down to the lot size; refuses zero, negative or dust."""
    size = to_decimal(value, field)
    if size <= 0:
        raise InvalidInput(field, f"must be positive, got {size}")
    rounded = instrument.round_size(size)
    if rounded <= 0:
        raise InvalidInput(
            field,
            f"{size} rounds down to 0 at the lot size {instrument.lot_sz} of "
            f"{instrument.inst_id}: give at least {instrument.lot_sz}",
        )
    return rounded


def normalize_price(instrument: Instrument, value: object, field: str = "price") -> Decimal:
    """``value`` rounded to the nearest tick; refuses zero or negative prices."""
    price = to_decimal(value, field)
    if price <= 0:
        raise InvalidInput(field, f"must be positive, got {price}")
    rounded = instrument.round_price(price)
    if rounded <= 0:
        raise InvalidInput(
            field, f"{price} rounds to 0 at the tick size {instrument.tick_sz}: give a real price"
        )
    return rounded


@attrs.frozen
class Plan:
    """A stop-loss or take-profit plan: close ``size`` contracts when price hits ``trigger_price``.

    Plans are validated (and rounded) when they are given to a position: a LONG's stop-loss
    must be below its average entry and its take-profit above; the reverse for a SHORT.
    """

    kind: PlanKind
    trigger_price: Decimal = attrs.field(converter=lambda v: to_decimal(v, "trigger_price"))
    size: Decimal = attrs.field(converter=lambda v: to_decimal(v, "size"))

    @classmethod
    def stop_loss(cls, trigger_price: object, size: object) -> Plan:
        return cls(PlanKind.STOP_LOSS, trigger_price, size)

    @classmethod
    def take_profit(cls, trigger_price: object, size: object) -> Plan:
        return cls(PlanKind.TAKE_PROFIT, trigger_price, size)


def _fills_first(side: Side, plan: Plan) -> tuple[int, Decimal]:
    """Sort key: the plan the price would reach first comes first (nearest to the entry)."""
    stop = plan.kind is PlanKind.STOP_LOSS
    # A LONG's stops fire from the highest down, its targets from the lowest up.
    descending = stop if side is Side.LONG else not stop
    return (0 if stop else 1, -plan.trigger_price if descending else plan.trigger_price)


def _trim(side: Side, plans: list[Plan], size: Decimal) -> tuple[Plan, ...]:
    """Plans of each kind cut to ``size`` in total, keeping those the price reaches first."""
    kept: list[Plan] = []
    for kind in PlanKind:
        room = size
        for plan in sorted(
            (p for p in plans if p.kind is kind), key=lambda p: _fills_first(side, p)
        ):
            if room <= 0:
                break
            kept.append(plan if plan.size <= room else attrs.evolve(plan, size=room))
            room -= kept[-1].size
    return tuple(sorted(kept, key=lambda p: _fills_first(side, p)))
