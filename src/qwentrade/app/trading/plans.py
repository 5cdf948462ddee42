"""Protection of TradingService: the stop-loss/take-profit algo orders replaced (the new ones
placed first, then the old ones canceled, so a position is never without a stop-loss),
resized to what the venue holds, and the plan replacement an interrupted add left undone."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable

import attrs

from qwentrade.app.trading.core import REFUSALS, _error
from qwentrade.app.trading.inputs import _trigger
from qwentrade.app.trading.orders import OrderSending
from qwentrade.domain.errors import DomainError, OrderNotFound, OutcomeUnknown
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.orders import IntentAction, OrderIntent
from qwentrade.domain.plans import Plan, PlanKind, Side
from qwentrade.domain.records import IntentRecord, RelationRecord
from qwentrade.domain.venue import AlgoOrder, AlgoRequest, AlgoType, ExchangePosition, PosSide
from qwentrade.domain.venue import Side as OrderSide

log = logging.getLogger(__name__)


class PlanProtection(OrderSending):
    """Places, resizes and replaces a position's stop-loss/take-profit orders."""

    def _finish_add(
        self, instrument: Instrument, cl_ord_id: str, stop_loss: object, take_profit: object
    ) -> None:
        """The plan replacement of an add whose first call was cut short (see add_position)."""
        order = self.history.order_by_client_id(cl_ord_id)
        if order is None or order.filled_amount <= 0:
            return
        relation = self._open_relation(instrument.inst_id)
        held = self._held(instrument.inst_id)
        if relation is None or held is None or self._plans_current(relation, held):
            return
        stop = _trigger(instrument, stop_loss, "stop_loss_trigger")
        target = _trigger(instrument, take_profit, "take_profit_trigger")
        relation = self.relations.save(
            attrs.evolve(
                relation,
                stop_loss_price=stop or relation.stop_loss_price,
                take_profit_price=target or relation.take_profit_price,
                updated_at=self.clock.now(),
            )
        )
        self._claim(instrument.inst_id)
        self._reprotect(relation)

    def _plans_current(self, relation: RelationRecord, held: ExchangePosition) -> bool:
        """True when the live algo orders are what a finished plan replacement leaves:
        one stop-loss, named by the relation, at its price, covering the whole position,
        and every take-profit named by it and at most the position's size."""
        size = held.contracts
        algos = self.exchange.open_algos(relation.symbol)
        stops = [a for a in algos if a.sl_trigger_price is not None]
        takes = [a for a in algos if a.tp_trigger_price is not None]
        if relation.stop_loss_price is not None:
            if len(stops) != 1:
                return False
            [stop] = stops
            if (
                stop.algo_id != relation.stop_loss_algo_id
                or stop.sl_trigger_price != relation.stop_loss_price
                or (stop.size is not None and stop.size != size)
            ):
                return False
        named = {relation.stop_loss_algo_id, relation.take_profit_algo_id}
        return all(a.algo_id in named and (a.size is None or a.size <= size) for a in takes)

    def _cancel_algos(self, symbol: str, keep: Iterable[str] = ()) -> list[AlgoOrder]:
        """Cancel the live algo orders of ``symbol`` but ``keep``; the canceled ones."""
        kept = set(keep)
        live = [a for a in self.exchange.open_algos(symbol) if a.algo_id not in kept]
        canceled = []
        for algo in live:
            try:
                canceled.extend(self.exchange.cancel_algos([(symbol, algo.algo_id)]))
            except OrderNotFound:  # triggered or canceled meanwhile
                continue
        return canceled

    def _reprotect(self, relation: RelationRecord) -> None:
        """Plans at the relation's prices, sized to what the venue holds now.

        A take-profit the price has already passed is dropped (it would be refused, and
        it was reached); when the stop-loss price has been passed the live orders are left
        as they are (the venue's stop is firing) and a warning is logged."""
        held = self._held(relation.symbol)
        if held is None:
            return
        last = self._last_price(relation.symbol)
        sign = Side[relation.side].sign
        plans = []
        stop, target = relation.stop_loss_price, relation.take_profit_price
        if stop is not None:
            if sign * (last - stop) <= 0:
                log.warning(
                    "%s: the stop-loss %s has been passed (last %s); orders left as they are",
                    relation.symbol, stop, last,
                )  # fmt: skip
                return
            plans.append(Plan.stop_loss(stop, held.contracts))
        if target is not None and sign * (target - last) > 0:
            plans.append(Plan.take_profit(target, held.contracts))
        if plans:
            self._replace_plans(relation, held, tuple(plans))

    def _replace_plans(
        self, relation: RelationRecord, held: ExchangePosition, plans: tuple[Plan, ...]
    ) -> RelationRecord:
        """Place ``plans`` (new first), then cancel every other live algo of the symbol."""
        side = Side[relation.side]
        now = self.clock.now()
        batch = uuid.uuid4().hex[:12]
        placed: list[tuple[Plan, AlgoOrder]] = []
        for i, plan in enumerate(plans):
            action = (
                IntentAction.STOP_LOSS
                if plan.kind is PlanKind.STOP_LOSS
                else (IntentAction.TAKE_PROFIT)
            )
            intent = OrderIntent(
                f"plan:{relation.client_order_id}:{batch}:{i}",
                relation.symbol,
                action,
                side,
                plan.size,
                now,
                trigger_price=plan.trigger_price,
            )
            stored = self._move(self.intents.add(IntentRecord.from_intent(intent, now)), "send")
            stop = plan.kind is PlanKind.STOP_LOSS
            pos_side = self._pos_side(side)
            request = AlgoRequest(
                symbol=relation.symbol,
                side=OrderSide.SELL if side is Side.LONG else OrderSide.BUY,
                algo_type=AlgoType.CONDITIONAL,
                size=plan.size,
                sl_trigger_price=plan.trigger_price if stop else None,
                tp_trigger_price=None if stop else plan.trigger_price,
                pos_side=pos_side,
                td_mode=held.margin_mode,
                reduce_only=pos_side is PosSide.NET,
                algo_client_order_id=stored.client_order_id,
            )
            try:
                algo = self.exchange.place_algo(request)
            except REFUSALS as e:
                self._move(stored, "reject", error=_error(e))
                raise
            except DomainError as e:
                self._move(stored, "answer_lost", error=_error(e))
                raise OutcomeUnknown(
                    f"the answer to the {plan.kind.value} order {stored.client_order_id} was "
                    "lost; the old orders are kept; reconciliation looks it up"
                ) from e
            self._move(stored, "acknowledge", order_id=algo.algo_id)
            placed.append((plan, algo))
        self._cancel_algos(relation.symbol, keep=[a.algo_id for _, a in placed])
        stops = [(p, a) for p, a in placed if p.kind is PlanKind.STOP_LOSS]
        targets = [(p, a) for p, a in placed if p.kind is PlanKind.TAKE_PROFIT]
        relation = self.relations.get(relation.client_order_id) or relation
        return self.relations.save(
            attrs.evolve(
                relation,
                stop_loss_algo_id=stops[0][1].algo_id if stops else None,
                stop_loss_price=stops[0][0].trigger_price if stops else None,
                take_profit_algo_id=targets[0][1].algo_id if targets else None,
                take_profit_price=targets[0][0].trigger_price if targets else None,
                updated_at=self.clock.now(),
            )
        )
