"""Input validation of TradingService: every argument checked before anything is written or
sent (``InvalidInput`` naming the field), the open/add request sized in contracts, the
replacement plans checked against the position and the last price, one position per
symbol."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import attrs

from qwentrade.app.trading.core import TradingBase
from qwentrade.app.trading.inputs import _positive, _trigger
from qwentrade.domain.errors import InvalidInput, PositionExists
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.plans import Plan, PlanKind, Side, normalize_price
from qwentrade.domain.records import RelationRecord
from qwentrade.domain.venue import ExchangePosition, OrderType

DEFAULT_LEVERAGE = "TRADING_DEFAULT_LEVERAGE"
ORDER_TYPES = ("market", "limit")


@attrs.frozen
class _Entry:
    """A validated open/add request."""

    instrument: Instrument
    side: Side
    contracts: Decimal
    leverage: int
    reference: Decimal
    order_type: OrderType
    price: Decimal | None
    stop_loss: Decimal | None
    take_profit: Decimal | None


class InputChecks(TradingBase):
    """The checks of an open/add request, of replacement plans and of a flat symbol."""

    def _entry(
        self,
        instrument: Instrument,
        side: Side,
        amount: object,
        leverage: object,
        order_type: object,
        price: object,
        stop_loss: object,
        take_profit: object,
    ) -> _Entry:
        margin = _positive(amount, "amount")
        if leverage is None:
            leverage = min(int(self.config.get(DEFAULT_LEVERAGE)), instrument.max_lever)
        lever = instrument.check_leverage(leverage)  # type: ignore[arg-type]
        if order_type not in ORDER_TYPES:
            raise InvalidInput("order_type", f"{order_type!r} is not market or limit")
        kind = OrderType(order_type)
        limit = None
        if kind is OrderType.LIMIT:
            if price is None:
                raise InvalidInput("price", "a limit order needs its price")
            limit = normalize_price(instrument, _positive(price, "price"), "price")
            reference = limit
        elif price is not None:
            reference = normalize_price(instrument, _positive(price, "price"), "price")
        else:
            reference = self._last_price(instrument.inst_id)
        contracts = instrument.round_size(margin * lever / (reference * instrument.ct_val))
        if contracts < instrument.min_sz:
            need = instrument.min_sz * reference * instrument.ct_val / lever
            raise InvalidInput(
                "amount",
                f"{margin} USDT at {lever}x buys {contracts} contracts of "
                f"{instrument.inst_id} at {reference}, below the minimum {instrument.min_sz}: "
                f"give at least {need.quantize(Decimal('0.01'))} USDT",
            )
        sl = _trigger(instrument, stop_loss, "stop_loss_trigger")
        tp = _trigger(instrument, take_profit, "take_profit_trigger")
        below, above = ("stop_loss_trigger", sl), ("take_profit_trigger", tp)
        if side is Side.SHORT:
            below, above = above, below
        if below[1] is not None and below[1] >= reference:
            raise InvalidInput(
                below[0], f"{below[1]} must be below the entry {reference} for a {side.name}"
            )
        if above[1] is not None and above[1] <= reference:
            raise InvalidInput(
                above[0], f"{above[1]} must be above the entry {reference} for a {side.name}"
            )
        return _Entry(instrument, side, contracts, lever, reference, kind, limit, sl, tp)

    def _check_plans(
        self,
        instrument: Instrument,
        relation: RelationRecord,
        held: ExchangePosition,
        plans: object,
    ) -> tuple[Plan, ...]:
        if isinstance(plans, (str, bytes, Mapping)) or not isinstance(plans, Iterable):
            raise InvalidInput("plans", "give a list of plans (kind, trigger_price, size)")
        given = [self._plan(instrument, held, i, p) for i, p in enumerate(plans)]
        if not any(p.kind is PlanKind.STOP_LOSS for p in given):
            raise InvalidInput(
                "plans", "include at least one stop_loss plan: a position is never unprotected"
            )
        position = self._position(instrument, relation, held)
        checked, _ = position.set_plans(given, self.clock.now())
        last = self._last_price(instrument.inst_id)
        for i, plan in enumerate(checked.plans):
            stop = plan.kind is PlanKind.STOP_LOSS
            below = stop if position.side is Side.LONG else not stop
            if (plan.trigger_price >= last) if below else (plan.trigger_price <= last):
                where = "below" if below else "above"
                raise InvalidInput(
                    f"plans[{i}].trigger_price",
                    f"{plan.kind.value} {plan.trigger_price} must be {where} the last price "
                    f"{last}, or it would fire at once",
                )
        return checked.plans

    @staticmethod
    def _plan(instrument: Instrument, held: ExchangePosition, index: int, plan: object) -> Plan:
        field = f"plans[{index}]"
        if isinstance(plan, Plan):
            return plan
        if not isinstance(plan, Mapping):
            raise InvalidInput(field, f"expected a Plan or a mapping, got {plan!r}")
        kinds = {k.value: k for k in PlanKind}
        kind = kinds.get(str(plan.get("kind", "")).strip().lower())
        if kind is None:
            raise InvalidInput(f"{field}.kind", f"{plan.get('kind')!r} is not one of {list(kinds)}")
        if "trigger_price" not in plan:
            raise InvalidInput(f"{field}.trigger_price", "is required")
        price = _positive(plan["trigger_price"], f"{field}.trigger_price")
        size, fraction = plan.get("size"), plan.get("fraction")
        if (size is None) == (fraction is None):
            raise InvalidInput(f"{field}.size", "give exactly one of size (contracts) or fraction")
        if fraction is not None:
            share = _positive(fraction, f"{field}.fraction")
            if share > 1:
                raise InvalidInput(f"{field}.fraction", f"must be at most 1, got {share}")
            size = instrument.round_size(held.contracts * share)
            if size <= 0:
                raise InvalidInput(f"{field}.fraction", f"{share} of {held.contracts} rounds to 0")
        return Plan(kind, price, _positive(size, f"{field}.size"))

    def _require_flat(self, symbol: str, own: str) -> None:
        relation = self._open_relation(symbol)
        if relation is not None and relation.client_order_id == own:
            return  # this very entry, decided before an interruption and never sent
        if relation is not None:
            raise PositionExists(
                symbol,
                f"{symbol} already has a position (opened by {relation.client_order_id}): "
                "one position per symbol; add to it or close it first",
            )
        if self._held(symbol) is not None:
            raise PositionExists(
                symbol,
                f"the venue holds a {symbol} position this database does not know: "
                "reconcile (it is adopted) or close it first",
            )
