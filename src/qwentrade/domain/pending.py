"""Pending trigger orders: open a position when price crosses a level, or expire.

States and the only moves between them (:data:`TRANSITIONS`)::

    PENDING --trigger--> TRIGGERED
    PENDING --cancel---> CANCELLED
    PENDING --expire---> EXPIRED

TRIGGERED, CANCELLED and EXPIRED are terminal: every action on them is refused. A new
pending order for a symbol cancels the older pending one (:func:`supersede`), as in the
original system. The monitor asks :meth:`PendingOrder.evaluate` with each new price and the
time; expiry wins over a trigger at the same instant (an expired order never opens a
position).
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime, timedelta
from decimal import ROUND_UP, Decimal

import attrs

from qwentrade.domain.errors import InvalidInput, InvalidTransition
from qwentrade.domain.events import (
    PendingCancelled,
    PendingCreated,
    PendingEvent,
    PendingExpired,
    PendingTriggered,
)
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import require_utc
from qwentrade.domain.numbers import to_decimal
from qwentrade.domain.position import Side, normalize_price

DEFAULT_PENDING_TTL = timedelta(hours=1)


class PendingState(enum.Enum):
    PENDING = "pending"
    TRIGGERED = "triggered"
    CANCELLED = "cancelled"
    EXPIRED = "expired"


class Crossing(enum.Enum):
    """UP triggers at a price at or above the level; DOWN at or below it."""

    UP = "up"
    DOWN = "down"


PENDING, TRIGGERED = PendingState.PENDING, PendingState.TRIGGERED
CANCELLED, EXPIRED = PendingState.CANCELLED, PendingState.EXPIRED
TRANSITIONS: dict[tuple[PendingState, str], PendingState] = {
    (PENDING, "trigger"): TRIGGERED,
    (PENDING, "cancel"): CANCELLED,
    (PENDING, "expire"): EXPIRED,
}
TERMINAL_STATES = frozenset({TRIGGERED, CANCELLED, EXPIRED})
ACTIONS = ("trigger", "cancel", "expire")


def margin_buying_minimum(
    instrument: Instrument, amount: object, leverage: int, price: Decimal
) -> Decimal:
    """``amount`` as a margin in USDT that buys at least ``instrument``'s minimum size at
    ``price`` and ``leverage`` (``InvalidInput("amount")`` naming the least that does)."""
    margin = to_decimal(amount, "amount")
    if margin <= 0:
        raise InvalidInput("amount", f"must be a positive margin in USDT, got {margin}")
    contracts = instrument.round_size(margin * leverage / (price * instrument.ct_val))
    if contracts < instrument.min_sz:
        needed = instrument.min_sz * price * instrument.ct_val / leverage
        raise InvalidInput(
            "amount",
            f"{margin} USDT at x{leverage} buys {contracts} contracts of {instrument.inst_id} "
            f"at {price}, below the minimum {instrument.min_sz}: give at least "
            f"{needed.quantize(Decimal('0.01'), rounding=ROUND_UP)} USDT",
        )
    return margin


@attrs.frozen
class PendingOrder:
    """A trigger order waiting for price to cross ``trigger_price``; build it with :meth:`create`.

    The field names are those of the stored record and the ``pending_order`` table.
    ``amount`` is the MARGIN in USDT (the unit ``TradingService.open_position`` takes, the
    original's ``create_pending_order(amount)``): the position opened holds ``amount x
    leverage / (price x ct_val)`` contracts, rounded down to the lot when it triggers;
    :meth:`create` refuses a margin that buys less than the instrument's minimum size at
    the trigger price. ``stop_loss_trigger``/``take_profit_trigger`` (optional) are
    the protection prices to attach when it triggers. ``signal_id`` is the stored signal
    that caused it (None when placed by hand). ``status`` is its :class:`PendingState`;
    ``closed_at`` is when it left PENDING, ``fill_price`` the price that triggered it and
    ``reason`` why it was cancelled.
    """

    id: str
    symbol: str
    side: Side
    trigger_price: Decimal
    crossing: Crossing
    amount: Decimal
    leverage: int
    created_at: datetime
    expire_at: datetime
    stop_loss_trigger: Decimal | None = None
    take_profit_trigger: Decimal | None = None
    signal_id: int | None = None
    status: PendingState = PENDING
    closed_at: datetime | None = None
    fill_price: Decimal | None = None
    reason: str = ""

    @classmethod
    def create(
        cls,
        id: str,
        instrument: Instrument,
        side: Side,
        trigger_price: object,
        amount: object,
        leverage: int,
        created_at: datetime,
        *,
        current_price: object | None = None,
        crossing: Crossing | None = None,
        ttl: timedelta = DEFAULT_PENDING_TTL,
        stop_loss_trigger: object | None = None,
        take_profit_trigger: object | None = None,
        signal_id: int | None = None,
    ) -> tuple[PendingOrder, tuple[PendingEvent, ...]]:
        """A new PENDING order expiring ``ttl`` (default 1 h) after ``created_at``.

        The crossing is ``crossing`` if given, else derived from the price now: a level above
        ``current_price`` triggers on the way UP, one below on the way DOWN.
        ``stop_loss_trigger`` must be on the losing side of the trigger price for ``side``
        (below for a LONG), ``take_profit_trigger`` on the winning side. Prices round to the
        tick. ``amount`` (USDT of margin) must buy at least the minimum size at the
        trigger price and ``leverage``.
        """
        if not isinstance(id, str) or not id.strip():
            raise InvalidInput("id", f"must be a non-empty string, got {id!r}")
        if signal_id is not None and (
            isinstance(signal_id, bool) or not isinstance(signal_id, int)
        ):
            raise InvalidInput("signal_id", f"must be an integer or None, got {signal_id!r}")
        if not isinstance(side, Side):
            raise InvalidInput("side", f"expected Side.LONG or Side.SHORT, got {side!r}")
        created_at = require_utc(created_at, "created_at")
        if not isinstance(ttl, timedelta) or ttl <= timedelta(0):
            raise InvalidInput("ttl", f"must be a positive timedelta, got {ttl!r}")
        level = normalize_price(instrument, trigger_price, "trigger_price")
        lever = instrument.check_leverage(leverage)
        amount_ = margin_buying_minimum(instrument, amount, lever, level)
        crossing = _crossing(level, current_price, crossing)
        stop = _protection(
            instrument, side, level, stop_loss_trigger, "stop_loss_trigger", below=True
        )
        target = _protection(
            instrument, side, level, take_profit_trigger, "take_profit_trigger", below=False
        )
        order = cls(
            id,
            instrument.inst_id,
            side,
            level,
            crossing,
            amount_,
            lever,
            created_at,
            created_at + ttl,
            stop,
            target,
            signal_id,
        )
        event = PendingCreated(
            id, order.symbol, side, level, crossing, amount_, order.expire_at, created_at
        )
        return order, (event,)

    @property
    def is_terminal(self) -> bool:
        return self.status in TERMINAL_STATES

    def triggers(self, price: object) -> bool:
        """True when ``price`` has crossed the level in this order's direction (PENDING only)."""
        if self.status is not PENDING:
            return False
        value = to_decimal(price, "price")
        if self.crossing is Crossing.UP:
            return value >= self.trigger_price
        return value <= self.trigger_price

    def expired(self, now: datetime) -> bool:
        """True when a PENDING order has reached its expiry at ``now`` (``now >= expire_at``)."""
        return self.status is PENDING and require_utc(now, "now") >= self.expire_at

    def apply(
        self, action: str, now: datetime, price: object | None = None, reason: str = ""
    ) -> tuple[PendingOrder, tuple[PendingEvent, ...]]:
        """Apply ``trigger`` (needs the crossing ``price``), ``cancel`` or ``expire`` at ``now``.

        Refused with :class:`InvalidTransition` when the table has no such move (a terminal
        order never changes), when triggering an order that has expired at ``now``, or when
        expiring one before its expiry.
        """
        if action not in ACTIONS:
            raise InvalidInput("action", f"{action!r} is not one of {', '.join(ACTIONS)}")
        now = require_utc(now, "now")
        target = TRANSITIONS.get((self.status, action))
        if target is None:
            raise InvalidTransition(
                f"cannot {action} pending order {self.id}: it is {self.status.name}, a final "
                "state; create a new pending order instead"
            )
        if action == "trigger":
            return self._trigger(price, now)
        if action == "expire":
            if now < self.expire_at:
                raise InvalidTransition(
                    f"cannot expire pending order {self.id} at {now.isoformat()}: it expires at "
                    f"{self.expire_at.isoformat()}; cancel it to stop it earlier"
                )
            new = attrs.evolve(self, status=EXPIRED, closed_at=now)
            return new, (PendingExpired(self.id, self.symbol, self.expire_at, now),)
        text = reason or "cancelled"
        new = attrs.evolve(self, status=CANCELLED, closed_at=now, reason=text)
        return new, (PendingCancelled(self.id, self.symbol, text, now),)

    def evaluate(
        self, price: object | None, now: datetime
    ) -> tuple[PendingOrder, tuple[PendingEvent, ...]]:
        """The monitor's step: expire if due, else trigger if ``price`` crosses, else nothing."""
        if self.status is not PENDING:
            return self, ()
        if self.expired(now):
            return self.apply("expire", now)
        if price is not None and self.triggers(price):
            return self.apply("trigger", now, price)
        return self, ()

    def _trigger(
        self, price: object | None, now: datetime
    ) -> tuple[PendingOrder, tuple[PendingEvent, ...]]:
        if price is None:
            raise InvalidInput("price", "triggering needs the price that crossed the level")
        value = to_decimal(price, "price")
        if not self.triggers(value):
            side = "at or above" if self.crossing is Crossing.UP else "at or below"
            raise InvalidInput(
                "price",
                f"{value} has not crossed the level: pending order {self.id} triggers {side} "
                f"{self.trigger_price}",
            )
        if now >= self.expire_at:
            raise InvalidTransition(
                f"cannot trigger pending order {self.id}: it expired at "
                f"{self.expire_at.isoformat()}; expire it instead"
            )
        new = attrs.evolve(self, status=TRIGGERED, closed_at=now, fill_price=value)
        event = PendingTriggered(
            self.id, self.symbol, self.side, self.trigger_price, value, self.amount, now
        )
        return new, (event,)


def supersede(
    existing: Iterable[PendingOrder], new: PendingOrder
) -> tuple[tuple[PendingOrder, ...], tuple[PendingEvent, ...]]:
    """Cancel every still-PENDING order of ``new``'s symbol: one pending order per symbol.

    Returns the cancelled orders and their events, at ``new.created_at``. Orders of other
    symbols, terminal orders and ``new`` itself are left alone.
    """
    cancelled: list[PendingOrder] = []
    events: list[PendingEvent] = []
    for order in existing:
        if order.symbol != new.symbol or order.status is not PENDING or order.id == new.id:
            continue
        done, more = order.apply("cancel", new.created_at, reason=f"superseded by {new.id}")
        cancelled.append(done)
        events.extend(more)
    return tuple(cancelled), tuple(events)


def _crossing(level: Decimal, current_price: object | None, crossing: Crossing | None) -> Crossing:
    if crossing is not None:
        if not isinstance(crossing, Crossing):
            raise InvalidInput(
                "crossing", f"expected Crossing.UP or Crossing.DOWN, got {crossing!r}"
            )
        return crossing
    if current_price is None:
        raise InvalidInput("crossing", "give the current price or the crossing direction")
    now = to_decimal(current_price, "current_price")
    if now == level:
        raise InvalidInput(
            "trigger_price",
            f"{level} equals the current price: it would trigger at once; place an order now "
            "or give the crossing explicitly",
        )
    return Crossing.UP if level > now else Crossing.DOWN


def _protection(
    instrument: Instrument,
    side: Side,
    level: Decimal,
    value: object | None,
    field: str,
    below: bool,
) -> Decimal | None:
    if value is None:
        return None
    price = normalize_price(instrument, value, field)
    want_below = below if side is Side.LONG else not below
    if want_below and price >= level:
        raise InvalidInput(
            field, f"{price} must be below the trigger price {level} for a {side.name}"
        )
    if not want_below and price <= level:
        raise InvalidInput(
            field, f"{price} must be above the trigger price {level} for a {side.name}"
        )
    return price
