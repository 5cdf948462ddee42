"""Domain events: what a transition of a position or a pending order did, as frozen values.

A transition returns ``(new_object, events)``; the application layer stores the new object
and acts on the events (place or cancel orders, write history, notify). Every event carries
``at``, the timezone-aware UTC time the caller gave the transition. Prices and sizes are
``Decimal`` (sizes in contracts); PnL and fees are in the settlement currency (USDT).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import attrs

if TYPE_CHECKING:  # imported for annotations only: position.py imports this module
    from qwentrade.domain.pending import Crossing
    from qwentrade.domain.position import Plan, Side


@attrs.frozen
class PositionOpened:
    """A position was opened by a fill of ``size`` contracts at ``price``."""

    symbol: str
    side: Side
    size: Decimal
    price: Decimal
    leverage: int
    fee: Decimal
    at: datetime


@attrs.frozen
class PositionIncreased:
    """A fill added ``size`` contracts at ``price``; ``new_size`` and ``average_price`` follow."""

    symbol: str
    side: Side
    size: Decimal
    price: Decimal
    fee: Decimal
    new_size: Decimal
    average_price: Decimal
    at: datetime


@attrs.frozen
class PositionReduced:
    """A fill closed part of the position; ``realized_pnl`` is this fill's, net of its fee."""

    symbol: str
    side: Side
    size: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal
    remaining_size: Decimal
    at: datetime


@attrs.frozen
class PositionClosed:
    """The last ``size`` contracts were closed at ``price``; the position is final.

    ``realized_pnl`` is this fill's (net of its fee); ``total_realized_pnl`` is the whole
    position's, net of every fee paid since it opened.
    """

    symbol: str
    side: Side
    size: Decimal
    price: Decimal
    fee: Decimal
    realized_pnl: Decimal
    total_realized_pnl: Decimal
    at: datetime


@attrs.frozen
class PositionClosedExternally:
    """The position was closed outside the system (manual close, liquidation, ADL).

    ``price`` and ``realized_pnl`` are None when the close price is not known yet.
    """

    symbol: str
    side: Side
    size: Decimal
    price: Decimal | None
    fee: Decimal
    realized_pnl: Decimal | None
    total_realized_pnl: Decimal
    reason: str
    at: datetime


@attrs.frozen
class PlansChanged:
    """The stop-loss / take-profit plans are now ``plans``; ``reason`` says why.

    Reasons: ``set`` (the caller replaced them), ``trimmed`` (a reduce shrank them to the
    new size), ``consumed`` (a plan's order filled), ``closed`` (the position closed).
    """

    symbol: str
    side: Side
    plans: tuple[Plan, ...]
    reason: str
    at: datetime


@attrs.frozen
class LeverageChanged:
    """The position's leverage changed from ``previous`` to ``leverage``."""

    symbol: str
    side: Side
    leverage: int
    previous: int
    at: datetime


@attrs.frozen
class StopLossMissing:
    """An open position has no stop-loss covering ``uncovered_size`` contracts (reconciliation)."""

    symbol: str
    side: Side
    size: Decimal
    uncovered_size: Decimal
    at: datetime


@attrs.frozen
class PendingCreated:
    """A pending order was created; it triggers when price crosses ``trigger_price``."""

    pending_id: str
    symbol: str
    side: Side
    trigger_price: Decimal
    crossing: Crossing
    amount: Decimal
    expire_at: datetime
    at: datetime


@attrs.frozen
class PendingTriggered:
    """A pending order triggered at ``price``: the application opens the position now."""

    pending_id: str
    symbol: str
    side: Side
    trigger_price: Decimal
    price: Decimal
    amount: Decimal
    at: datetime


@attrs.frozen
class PendingCancelled:
    """A pending order was cancelled (by the user, or superseded by a newer one)."""

    pending_id: str
    symbol: str
    reason: str
    at: datetime


@attrs.frozen
class PendingExpired:
    """A pending order reached its expiry without triggering."""

    pending_id: str
    symbol: str
    expire_at: datetime
    at: datetime


PositionEvent = (
    PositionOpened
    | PositionIncreased
    | PositionReduced
    | PositionClosed
    | PositionClosedExternally
    | PlansChanged
    | LeverageChanged
)
PendingEvent = PendingCreated | PendingTriggered | PendingCancelled | PendingExpired
Event = PositionEvent | PendingEvent | StopLossMissing
