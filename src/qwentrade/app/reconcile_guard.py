"""The stop-loss guard of :class:`~qwentrade.app.reconcile.ReconciliationService` (a base
class of it, like :class:`~qwentrade.app.reconcile_stream.StreamConsumer`: the service
owns the exchange, the repositories and the counter this uses).

It carries out the actions of ``domain.reconcile`` that place or cancel algo orders:

- ``PlaceStopLoss``: a stop-loss for a position without one (the uncovered size, or the
  whole position), then the relation names it;
- ``MergeStops``: one stop-loss order for what several made up (with a take-profit of its
  own for each replaced oco order's leg), then the old ones are canceled;
- ``CancelAlgos``: stale algo orders canceled (one by one when one went meanwhile).

Each algo order is placed intent first, its client order id the intent's, and the intent
settled by the answer (acknowledged, rejected, or outcome unknown).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs

from qwentrade.domain.errors import ExchangeRejected, OrderNotFound, OutcomeUnknown
from qwentrade.domain.orders import IntentAction, OrderIntent
from qwentrade.domain.position import Side as PositionSide
from qwentrade.domain.reconcile import MergeStops, PlaceStopLoss
from qwentrade.domain.records import IntentRecord
from qwentrade.domain.venue import AlgoOrder, AlgoRequest, AlgoType
from qwentrade.ports.exchange import Exchange

# the service's logger: these lines were logged under its name before the split
log = logging.getLogger("qwentrade.app.reconcile")


class StopLossGuard:
    """Places, merges and cancels algo orders for reconciliation (module docstring). The
    service provides what it uses."""

    _exchange: Exchange
    _intents: Any
    _relations: Any
    _guard_count: int

    def _cancel(self, algos: tuple[tuple[str, str], ...]) -> None:
        try:
            self._exchange.cancel_algos(list(algos))
        except OrderNotFound:  # one of them went meanwhile: cancel the rest one by one
            for pair in algos:
                with contextlib.suppress(OrderNotFound):
                    self._exchange.cancel_algos([pair])

    def _place_stop_loss(self, action: PlaceStopLoss, now: datetime) -> str:
        """The guard: a stop-loss for the uncovered size (or the whole position), then the
        relation names it."""
        size = action.size
        if size is None:
            size = next(
                (p.contracts for p in self._exchange.positions(action.symbol)
                 if p.pos_id == action.pos_id),
                None,
            )  # fmt: skip
            if size is None:
                raise OrderNotFound(f"the {action.symbol} position is gone")
        algo = self._place_algo(
            IntentAction.STOP_LOSS, action, size, action.trigger_price, action.size is None, now
        )
        log.warning(
            "stop-loss guard: %s %s had no stop-loss; placed %s at %s (%s)",
            action.symbol,
            action.direction,
            algo.algo_id,
            action.trigger_price,
            action.source,
        )
        self._name_in_relation(action.relation_id, now, stop=(algo.algo_id, action.trigger_price))
        return algo.algo_id

    def _merge_stops(self, action: MergeStops, now: datetime) -> str:
        """One stop-loss order for what several orders made up: the new one first, a
        take-profit of its own for each replaced oco order's leg, then the old ones go."""
        stop = self._place_algo(
            IntentAction.STOP_LOSS, action, action.size, action.trigger_price, False, now
        )
        names: dict[str, tuple[str, Decimal]] = {"stop": (stop.algo_id, action.trigger_price)}
        for price, size in action.take_profits:
            whole = size is None
            take = self._place_algo(
                IntentAction.TAKE_PROFIT, action, size or action.size, price, whole, now
            )
            names.setdefault("take", (take.algo_id, price))
        self._cancel(action.replaced)
        log.warning(
            "reconciliation merged the %s %s stop-loss orders %s into %s",
            action.symbol,
            action.direction,
            ", ".join(algo_id for _, algo_id in action.replaced),
            stop.algo_id,
        )
        self._name_in_relation(action.relation_id, now, **names)
        return stop.algo_id

    def _place_algo(
        self,
        kind: IntentAction,
        action: PlaceStopLoss | MergeStops,
        size: Decimal,
        trigger: Decimal,
        whole: bool,
        now: datetime,
    ) -> AlgoOrder:
        """Intent first (its client order id is the algo's), then the algo order (at
        STOP_LOSS priority for a stop-loss leg: the OKX adapter's rule)."""
        self._guard_count += 1
        stamp = int(now.timestamp() * 1000)
        intent = OrderIntent(
            key=f"guard-{action.symbol}-{action.direction}-{stamp}-{self._guard_count}",
            symbol=action.symbol,
            action=kind,
            side=PositionSide[action.direction],
            size=size,
            created_at=now,
            trigger_price=trigger,
        )
        record = self._intents.add(IntentRecord.from_intent(intent, updated_at=now))
        sent = intent.apply("send")
        self._intents.update(IntentRecord.from_intent(sent, now), expected_state=record.state)
        stop = kind is IntentAction.STOP_LOSS
        request = AlgoRequest(
            symbol=action.symbol,
            side=action.side,
            algo_type=AlgoType.CONDITIONAL,
            size=None if whole else size,
            close_fraction=Decimal(1) if whole else None,
            sl_trigger_price=trigger if stop else None,
            tp_trigger_price=None if stop else trigger,
            pos_side=action.pos_side,
            td_mode=action.td_mode,
            reduce_only=True,
            algo_client_order_id=intent.client_order_id,
        )
        try:
            algo = self._exchange.place_algo(request)
        except OutcomeUnknown as e:
            lost = sent.apply("answer_lost", error=str(e))
            self._intents.update(IntentRecord.from_intent(lost, now), expected_state="SENT")
            raise
        except ExchangeRejected as e:
            rejected = sent.apply("reject", error=str(e))
            self._intents.update(IntentRecord.from_intent(rejected, now), expected_state="SENT")
            raise
        done = sent.apply("acknowledge", order_id=algo.algo_id)
        self._intents.update(IntentRecord.from_intent(done, now), expected_state="SENT")
        return algo

    def _name_in_relation(
        self,
        relation_id: str | None,
        now: datetime,
        stop: tuple[str, Decimal] | None = None,
        take: tuple[str, Decimal] | None = None,
    ) -> None:
        relation = None if relation_id is None else self._relations.get(relation_id)
        if relation is None or relation.status != "OPEN":
            return
        if stop is not None:
            relation = attrs.evolve(relation, stop_loss_algo_id=stop[0], stop_loss_price=stop[1])
        if take is not None:
            relation = attrs.evolve(
                relation, take_profit_algo_id=take[0], take_profit_price=take[1]
            )
        self._relations.save(attrs.evolve(relation, updated_at=now))
