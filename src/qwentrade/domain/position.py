"""The position aggregate: open, add, reduce, close, stop-loss/take-profit plans, PnL.

One :class:`Position` per open position (one per symbol and side). Every transition takes
the time ``at`` and returns ``(new_position, events)``; the old object is never changed, so
a refused transition (a :class:`~qwentrade.domain.errors.DomainError`) leaves nothing half
done.

Conventions:

* Sizes are in contracts; a contract holds ``instrument.ct_val`` of the base coin. Every
  size is rounded DOWN to the lot size and every price to the nearest tick by
  :func:`normalize_size` / :func:`normalize_price` (both through ``domain.numbers``).
* PnL, fees and values are in the settlement currency (USDT). A LONG earns
  ``(exit - entry) * size * ct_val``, a SHORT ``(entry - exit) * size * ct_val``.
* ``fee`` is what a fill cost: positive when paid, negative for a rebate (note OKX reports
  paid fees as negative numbers: flip the sign at the adapter). Every fee, opening fills
  included, is subtracted from ``realized_pnl``, so a round trip realises exactly
  ``sum(exit_value) - sum(entry_value) - sum(fees)`` (signed for the side).
* ``entry_value`` is the exact cost of the open size (sum of price x size x ct_val of the
  fills still held); the average entry price is derived from it. A partial close takes
  its proportional share of the cost, rounded to 1e-18; a full close takes all that is
  left, so nothing is lost to rounding.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from datetime import datetime
from decimal import Context, Decimal, localcontext

import attrs

from qwentrade.domain.errors import InvalidInput, InvalidTransition
from qwentrade.domain.events import (
    LeverageChanged,
    PlansChanged,
    PositionClosed,
    PositionClosedExternally,
    PositionEvent,
    PositionIncreased,
    PositionOpened,
    PositionReduced,
)
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import require_utc
from qwentrade.domain.numbers import to_decimal
from qwentrade.domain.plans import (
    Plan,
    PlanKind,
    Side,
    _fills_first,
    _trim,
    normalize_price,
    normalize_size,
)

__all__ = [
    "CLOSED",
    "COST_QUANTUM",
    "OPEN",
    "TRANSITIONS",
    "ZERO",
    "Plan",
    "PlanKind",
    "Position",
    "PositionStatus",
    "Side",
    "normalize_price",
    "normalize_size",
]

ZERO = Decimal(0)
COST_QUANTUM = Decimal("1e-18")
# Wide enough that sums and products of prices, sizes and the 1e-18 cost quantum are exact.
_EXACT = Context(prec=60)
# Derived views (average prices, percentages) are given to 28 significant digits.
_VIEW = Context(prec=28)


class PositionStatus(enum.Enum):
    OPEN = "open"
    CLOSED = "closed"


OPEN, CLOSED = PositionStatus.OPEN, PositionStatus.CLOSED
# The transition table: anything not listed is refused. A reduce that takes the whole size
# is a close (it ends in CLOSED), and CLOSED is final.
TRANSITIONS: dict[tuple[PositionStatus, str], PositionStatus] = {
    (OPEN, "add"): OPEN,
    (OPEN, "reduce"): OPEN,
    (OPEN, "close"): CLOSED,
    (OPEN, "close_externally"): CLOSED,
    (OPEN, "set_plans"): OPEN,
    (OPEN, "set_leverage"): OPEN,
}


@attrs.frozen
class Position:
    """An open (or just closed) position; build it with :meth:`open`.

    ``size`` is in contracts (0 once closed); ``entry_value`` is the USDT cost of the open
    size; ``realized_pnl`` is net of every fee in ``fees``; ``max_size``, ``closed_size`` and
    ``exit_value`` feed the position history (OKX's openMaxPos, closeTotalPos, closeAvgPx).
    """

    instrument: Instrument
    side: Side
    size: Decimal
    entry_value: Decimal
    leverage: int
    opened_at: datetime
    updated_at: datetime
    status: PositionStatus = OPEN
    realized_pnl: Decimal = ZERO
    fees: Decimal = ZERO
    plans: tuple[Plan, ...] = ()
    max_size: Decimal = ZERO
    closed_size: Decimal = ZERO
    exit_value: Decimal = ZERO
    closed_at: datetime | None = None

    # ---- construction -------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        instrument: Instrument,
        side: Side,
        size: object,
        price: object,
        leverage: int,
        at: datetime,
        fee: object = ZERO,
        plans: Iterable[Plan] = (),
    ) -> tuple[Position, tuple[PositionEvent, ...]]:
        """Open a position with a first fill; ``plans`` (optional) are validated as set_plans."""
        if not isinstance(side, Side):
            raise InvalidInput("side", f"expected Side.LONG or Side.SHORT, got {side!r}")
        at = require_utc(at, "at")
        size_ = instrument.check_size(normalize_size(instrument, size))
        price_ = normalize_price(instrument, price)
        fee_ = to_decimal(fee, "fee")
        lever = instrument.check_leverage(leverage)
        with localcontext(_EXACT):
            value = _tidy(price_ * size_ * instrument.ct_val)
            realized = ZERO - fee_
        position = cls(
            instrument,
            side,
            size_,
            value,
            lever,
            at,
            at,
            realized_pnl=realized,
            fees=fee_,
            max_size=size_,
        )
        events: list[PositionEvent] = [
            PositionOpened(instrument.inst_id, side, size_, price_, lever, fee_, at)
        ]
        plans = tuple(plans)
        if plans:
            position, more = position.set_plans(plans, at)
            events.extend(more)
        return position, tuple(events)

    # ---- views --------------------------------------------------------------------------

    @property
    def symbol(self) -> str:
        return self.instrument.inst_id

    @property
    def is_open(self) -> bool:
        return self.status is OPEN

    @property
    def average_price(self) -> Decimal:
        """Average entry price of the open size (exact to 28 digits); 0 once closed."""
        if self.size == 0:
            return ZERO
        with localcontext(_VIEW):
            return _tidy(self.entry_value / (self.size * self.instrument.ct_val))

    @property
    def close_average_price(self) -> Decimal:
        """Average price of every closing fill so far (OKX closeAvgPx); 0 before any."""
        if self.closed_size == 0:
            return ZERO
        with localcontext(_VIEW):
            return _tidy(self.exit_value / (self.closed_size * self.instrument.ct_val))

    @property
    def margin(self) -> Decimal:
        """Initial margin of the open size: entry_value / leverage (USDT)."""
        with localcontext(_VIEW):
            return _tidy(self.entry_value / self.leverage)

    @property
    def stop_losses(self) -> tuple[Plan, ...]:
        return tuple(p for p in self.plans if p.kind is PlanKind.STOP_LOSS)

    @property
    def take_profits(self) -> tuple[Plan, ...]:
        return tuple(p for p in self.plans if p.kind is PlanKind.TAKE_PROFIT)

    def planned_size(self, kind: PlanKind) -> Decimal:
        """Total contracts covered by the plans of ``kind``; never above ``size``."""
        return sum((p.size for p in self.plans if p.kind is kind), ZERO)

    def unrealized_pnl(self, mark_price: object) -> Decimal:
        """PnL of the open size if closed at ``mark_price`` (USDT, before closing fees)."""
        mark = to_decimal(mark_price, "mark_price")
        with localcontext(_EXACT):
            value = mark * self.size * self.instrument.ct_val
            return _tidy(self.side.sign * (value - self.entry_value))

    def pnl_percentage(self, mark_price: object) -> Decimal:
        """Unrealised PnL as a percentage of the initial margin (OKX uplRatio x 100); 0 if flat."""
        if self.size == 0:
            return ZERO
        pnl = self.unrealized_pnl(mark_price)
        with localcontext(_VIEW):
            return _tidy(pnl * self.leverage * 100 / self.entry_value)

    # ---- transitions --------------------------------------------------------------------

    def add(
        self, size: object, price: object, at: datetime, fee: object = ZERO
    ) -> tuple[Position, tuple[PositionEvent, ...]]:
        """Add a fill of ``size`` contracts at ``price``; the average entry moves accordingly.

        Existing plans are kept as they are (they were checked against the entry when set):
        the fill has happened, refusing it would only hide it.
        """
        at = self._check("add", at)
        size_ = self.instrument.check_size(normalize_size(self.instrument, size))
        price_ = normalize_price(self.instrument, price)
        fee_ = to_decimal(fee, "fee")
        with localcontext(_EXACT):
            new = attrs.evolve(
                self,
                size=self.size + size_,
                entry_value=_tidy(self.entry_value + price_ * size_ * self.instrument.ct_val),
                realized_pnl=self.realized_pnl - fee_,
                fees=self.fees + fee_,
                max_size=max(self.max_size, self.size + size_),
                updated_at=max(self.updated_at, at),
            )
        event = PositionIncreased(
            self.symbol, self.side, size_, price_, fee_, new.size, new.average_price, at
        )
        return new, (event,)

    def reduce(
        self,
        size: object,
        price: object,
        at: datetime,
        fee: object = ZERO,
        plan: Plan | None = None,
    ) -> tuple[Position, tuple[PositionEvent, ...]]:
        """Close ``size`` contracts at ``price``; all of them closes the position.

        ``plan`` names the stop-loss/take-profit plan whose order filled: it shrinks by the
        filled size first. Then, if the plans of one kind cover more than the new size, they
        are trimmed starting with the plan the price would reach last, so the nearest stop
        and the nearest target stay whole.
        """
        at = self._check("reduce", at)
        size_ = normalize_size(self.instrument, size)
        if size_ > self.size:
            raise InvalidInput(
                "size",
                f"cannot reduce {size_} contracts from the {self.side.name} {self.symbol} "
                f"position of {self.size}: give at most {self.size}",
            )
        price_ = normalize_price(self.instrument, price)
        fee_ = to_decimal(fee, "fee")
        plans = list(self.plans)
        if plan is not None:
            if plan not in plans:
                raise InvalidInput("plan", f"{plan} is not one of this position's plans")
            plans.remove(plan)
            if plan.size > size_:
                plans.append(attrs.evolve(plan, size=plan.size - size_))
        with localcontext(_EXACT):
            ct_val = self.instrument.ct_val
            if size_ == self.size:
                cost = self.entry_value
            else:
                cost = (self.entry_value * size_ / self.size).quantize(COST_QUANTUM)
            exit_value = price_ * size_ * ct_val
            pnl = _tidy(self.side.sign * (exit_value - cost) - fee_)
            remaining = self.size - size_
            new = attrs.evolve(
                self,
                size=remaining,
                entry_value=_tidy(self.entry_value - cost),
                realized_pnl=_tidy(self.realized_pnl + pnl),
                fees=self.fees + fee_,
                closed_size=self.closed_size + size_,
                exit_value=self.exit_value + exit_value,
                updated_at=max(self.updated_at, at),
            )
        if remaining == 0:
            new = attrs.evolve(new, status=CLOSED, closed_at=at, plans=())
            events: list[PositionEvent] = [
                PositionClosed(
                    self.symbol, self.side, size_, price_, fee_, pnl, new.realized_pnl, at
                )
            ]
            if self.plans:
                events.append(PlansChanged(self.symbol, self.side, (), "closed", at))
            return new, tuple(events)
        trimmed = _trim(self.side, plans, remaining)
        new = attrs.evolve(new, plans=trimmed)
        events = [PositionReduced(self.symbol, self.side, size_, price_, fee_, pnl, remaining, at)]
        if trimmed != self.plans:
            reason = "consumed" if plan is not None else "trimmed"
            events.append(PlansChanged(self.symbol, self.side, trimmed, reason, at))
        return new, tuple(events)

    def close(
        self, price: object, at: datetime, fee: object = ZERO, size: object | None = None
    ) -> tuple[Position, tuple[PositionEvent, ...]]:
        """Close all of the position at ``price`` (or only ``size`` contracts: a reduce)."""
        self._check("close", at)
        return self.reduce(self.size if size is None else size, price, at, fee)

    def close_externally(
        self, at: datetime, price: object | None = None, fee: object = ZERO, reason: str = ""
    ) -> tuple[Position, tuple[PositionEvent, ...]]:
        """Record that the position was closed outside the system (manual, liquidation, ADL).

        With ``price`` the PnL is realised as for a close; without it the close price is
        unknown and ``realized_pnl`` stays as it was (reconcile later from the history).
        """
        at = self._check("close_externally", at)
        size = self.size
        if price is None:
            new = attrs.evolve(
                self,
                size=ZERO,
                entry_value=ZERO,
                status=CLOSED,
                closed_at=at,
                plans=(),
                updated_at=max(self.updated_at, at),
            )
            pnl = None
            price_ = None
            fee_ = ZERO
        else:
            closed, _ = self.reduce(size, price, at, fee)
            new = closed
            price_ = normalize_price(self.instrument, price)
            fee_ = to_decimal(fee, "fee")
            pnl = closed.realized_pnl - self.realized_pnl
        events: list[PositionEvent] = [
            PositionClosedExternally(
                self.symbol, self.side, size, price_, fee_, pnl, new.realized_pnl, reason, at
            )
        ]
        if self.plans:
            events.append(PlansChanged(self.symbol, self.side, (), "closed", at))
        return new, tuple(events)

    def set_plans(
        self, plans: Iterable[Plan], at: datetime
    ) -> tuple[Position, tuple[PositionEvent, ...]]:
        """Replace the stop-loss/take-profit plans (several partial plans of each kind allowed).

        Each plan's price is rounded to the tick and its size down to the lot. A LONG's
        stop-loss must be below the average entry and its take-profit above (a SHORT: the
        reverse); the stop-loss sizes together, and the take-profit sizes together, may not
        exceed the position's size.
        """
        at = self._check("set_plans", at)
        checked = tuple(self._check_plan(i, plan) for i, plan in enumerate(plans))
        for kind in PlanKind:
            total = sum((p.size for p in checked if p.kind is kind), ZERO)
            if total > self.size:
                raise InvalidInput(
                    "plans",
                    f"the {kind.value} plans cover {total} contracts but the position holds "
                    f"{self.size}: lower their sizes",
                )
        ordered = tuple(sorted(checked, key=lambda p: _fills_first(self.side, p)))
        new = attrs.evolve(self, plans=ordered, updated_at=max(self.updated_at, at))
        return new, (PlansChanged(self.symbol, self.side, ordered, "set", at),)

    def add_plan(self, plan: Plan, at: datetime) -> tuple[Position, tuple[PositionEvent, ...]]:
        """Add one plan to the existing ones (same checks as :meth:`set_plans`)."""
        return self.set_plans((*self.plans, plan), at)

    def set_leverage(
        self, leverage: int, at: datetime
    ) -> tuple[Position, tuple[PositionEvent, ...]]:
        """Change the leverage (1..instrument.max_lever); the margin follows."""
        at = self._check("set_leverage", at)
        lever = self.instrument.check_leverage(leverage)
        new = attrs.evolve(self, leverage=lever, updated_at=max(self.updated_at, at))
        return new, (LeverageChanged(self.symbol, self.side, lever, self.leverage, at),)

    # ---- helpers ------------------------------------------------------------------------

    def _check(self, action: str, at: datetime) -> datetime:
        if (self.status, action) not in TRANSITIONS:
            raise InvalidTransition(
                f"cannot {action.replace('_', ' ')} the {self.side.name} {self.symbol} position: "
                f"it is {self.status.name}; open a new position instead"
            )
        return require_utc(at, "at")

    def _check_plan(self, index: int, plan: Plan) -> Plan:
        field = f"plans[{index}]"
        if not isinstance(plan, Plan) or not isinstance(plan.kind, PlanKind):
            raise InvalidInput(field, f"expected a Plan, got {plan!r}")
        price = normalize_price(self.instrument, plan.trigger_price, f"{field}.trigger_price")
        size = self.instrument.check_size(
            normalize_size(self.instrument, plan.size, f"{field}.size"), f"{field}.size"
        )
        entry = self.average_price
        stop = plan.kind is PlanKind.STOP_LOSS
        below = stop if self.side is Side.LONG else not stop
        if below and price >= entry:
            raise InvalidInput(
                f"{field}.trigger_price",
                f"{plan.kind.value} {price} must be below the entry {entry} for a {self.side.name}",
            )
        if not below and price <= entry:
            raise InvalidInput(
                f"{field}.trigger_price",
                f"{plan.kind.value} {price} must be above the entry {entry} for a {self.side.name}",
            )
        return Plan(plan.kind, price, size)


def _tidy(value: Decimal) -> Decimal:
    """Drop trailing zeros without switching to exponent notation for whole numbers."""
    normal = value.normalize()
    return normal.quantize(Decimal(1)) if normal.as_tuple().exponent > 0 else normal
