"""Reducing and closing in TradingService, and the realised PnL of a closed position: from
the venue's position history (OKX ``realizedPnl``), else from the fills and fees of the
position's orders; what closed it (its own stop-loss/take-profit, a liquidation, ADL)
when the venue says so."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from qwentrade.app.trading.core import REFUSALS, ZERO
from qwentrade.app.trading.inputs import _check_key, _positive
from qwentrade.app.trading.plans import PlanProtection
from qwentrade.domain.errors import InvalidInput, OrderNotFound
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import TimeRange
from qwentrade.domain.orders import IntentAction
from qwentrade.domain.plans import Side
from qwentrade.domain.records import (
    FULL_CLOSE_TYPES,
    OrderRecord,
    PositionRecord,
    RelationRecord,
)
from qwentrade.domain.venue import Order

HUNDRED = Decimal(100)
EXTERNAL = "external"
# OKX order ``source`` of the order a triggered TP/SL algo order sent (the simulator's too)
ALGO_SOURCE = "7"
# OKX position-history close types that say who closed it (3 liquidation, 5 ADL)
CLOSE_TYPE_REASONS = {3: "liquidation", 5: "adl"}


class PositionClosing(PlanProtection):
    """Reduces and closes positions and records their close with the realised PnL."""

    def _reduce(self, symbol: str, amount: object, reason: str, key: str | None) -> str:
        key = _check_key(key)
        instrument = self._instrument(symbol)
        with self._locks(instrument.inst_id):
            if key is not None:
                done = self._repeat(key, IntentAction.REDUCE)
                if done is not None:
                    return done
            margin = _positive(amount, "amount")
            relation, held = self._open_position(instrument.inst_id)
            avg = held.avg_price if held.avg_price is not None else held.mark_price
            lever = max(1, held.leverage)
            held_margin = avg * held.contracts * instrument.ct_val / lever
            if margin > held_margin:
                raise InvalidInput(
                    "amount",
                    f"{margin} USDT is more than the {held_margin.quantize(Decimal('0.01'))} "
                    f"USDT margin of the {instrument.inst_id} position: give at most that, "
                    "or close it",
                )
            contracts = instrument.round_size(held.contracts * margin / held_margin)
            if contracts <= 0:
                raise InvalidInput(
                    "amount", f"{margin} USDT is less than one lot ({instrument.lot_sz})"
                )
            if contracts < held.contracts and held.contracts - contracts < instrument.min_sz:
                contracts = held.contracts  # never leave dust below the minimum size
            self._claim(instrument.inst_id)
            full = contracts >= held.contracts
            stored = self._store_intent(
                key or f"reduce:{instrument.inst_id}:{uuid.uuid4().hex}",
                instrument.inst_id,
                IntentAction.REDUCE,
                Side[relation.side],
                contracts,
            )
            removed = self._cancel_algos(instrument.inst_id) if full else []
            request = self._order_request(stored, contracts, reduce_only=True, held=held)
            try:
                order = self._send(stored, request, None)
            except REFUSALS:
                if removed:
                    self._reprotect(relation)
                raise
            if order is not None and not order.is_open:
                if full or self._held(instrument.inst_id) is None:
                    self._after_close(relation, order, reason)
                else:
                    self._reprotect(relation)
            return stored.client_order_id

    def _cancel_entry(self, relation: RelationRecord) -> None:
        try:
            self.exchange.cancel_order(relation.symbol, client_order_id=relation.client_order_id)
        except OrderNotFound:
            return

    def _after_close(self, relation: RelationRecord, order: Order, reason: str) -> None:
        self._cancel_algos(relation.symbol)  # leftovers (the venue sweeps most)
        self._finish(relation, reason, order)

    def _finish(
        self,
        relation: RelationRecord,
        reason: str,
        order: Order | None,
        at: datetime | None = None,
    ) -> RelationRecord:
        """Close ``relation`` with its realised PnL from the venue."""
        relation = self.relations.get(relation.client_order_id) or relation
        if relation.status != "OPEN":
            return relation
        instrument = self._instrument(relation.symbol)
        pnl, percent, closed_at, close_id, cause = self._realized(instrument, relation)
        if reason == EXTERNAL and cause is not None:
            reason = cause  # the venue's own stop-loss/take-profit or a liquidation
        if order is not None:
            close_id = order.order_id
        when = at or closed_at or (order.updated_at if order is not None else None)
        when = when or self.clock.now()
        status = "CLOSED" if relation.open_time is not None or pnl != 0 else "FAILED"
        return self.relations.save(
            attrs.evolve(
                relation,
                status=status,
                close_order_id=close_id,
                close_time=when,
                pnl=pnl,
                pnl_percentage=percent,
                updated_at=self.clock.now(),
                close_reason=reason,
            )
        )

    def _realized(
        self, instrument: Instrument, relation: RelationRecord
    ) -> tuple[Decimal, Decimal, datetime | None, str | None, str | None]:
        """(pnl, pnl %, close time, closing order id, cause) of the relation's closed
        position. ``cause`` is what closed it when the venue says so: ``liquidation`` or
        ``adl`` (the position history's close type), ``stop_loss``/``take_profit`` (the
        last closing order was sent by a triggered TP/SL algo order, OKX ``source`` 7;
        the leg by its price, see :func:`_triggered_leg`); else None."""
        since = relation.open_time or relation.created_at
        span = TimeRange(since - timedelta(seconds=1), self.clock.now() + timedelta(days=1))
        rows: list[PositionRecord] = [
            r
            for r in self.exchange.position_history(relation.symbol, span, limit=100)
            if r.pos_size == 0
            and r.close_type in FULL_CLOSE_TYPES
            and (relation.pos_id is None or r.pos_id == relation.pos_id)
            and r.updated_at >= since
        ]
        orders: list[OrderRecord] = [
            o
            for o in self.exchange.order_history(relation.symbol, span, limit=100)
            if o.filled_amount > 0 and o.created_at >= relation.created_at
        ]
        closing = [o for o in orders if o.reduce_only or o.pnl != 0]
        last = max(closing, key=lambda o: (o.updated_at, o.order_id)) if closing else None
        close_id = last.order_id if last is not None else None
        cause = None
        if last is not None and last.source == ALGO_SOURCE:
            cause = _triggered_leg(relation, last)
        if rows:
            row = max(rows, key=lambda r: r.updated_at)
            margin = row.avg_price * row.open_max_size * instrument.ct_val / max(1, row.leverage)
            pnl = row.realized_pnl
            percent = pnl * HUNDRED / margin if margin else ZERO
            cause = CLOSE_TYPE_REASONS.get(row.close_type, cause)
            return pnl, _round(percent), row.updated_at, close_id, cause
        pnl = sum((o.pnl + o.fee for o in orders), ZERO)
        entry = [o for o in orders if not o.reduce_only and o.pnl == 0 and o.avg_price]
        margin = sum(
            (o.avg_price * o.filled_amount * instrument.ct_val / max(1, o.leverage) for o in entry),
            ZERO,
        )  # type: ignore[operator]
        percent = pnl * HUNDRED / margin if margin else ZERO
        return pnl, _round(percent), None, close_id, cause


def _triggered_leg(relation: RelationRecord, order: OrderRecord) -> str:
    """Which leg of the relation's plans sent ``order`` (a TP/SL-triggered close): with
    both prices known, the side of their midpoint its fill price is on (a stop fills at
    or beyond the stop, a target at or beyond the target, whatever the slippage); with
    one known, that one; with neither, take_profit for a gain and stop_loss otherwise."""
    stop, target = relation.stop_loss_price, relation.take_profit_price
    price = order.avg_price
    if stop is not None and target is not None and price is not None:
        ahead = Side[relation.side].sign * (price - (stop + target) / 2)
        return "take_profit" if ahead > 0 else "stop_loss"
    if stop is None and target is not None:
        return "take_profit"
    if stop is not None and target is None:
        return "stop_loss"
    return "take_profit" if order.pnl > 0 else "stop_loss"


def _round(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.0001"))
