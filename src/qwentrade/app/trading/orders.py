"""Order and intent bookkeeping of TradingService: each order's intent written before its
request leaves and marked SENT first, a lost answer looked up by ``clOrdId`` once (never
re-sent), the venue's answer recorded (order row, acknowledged intent, the entry's
relation), and a repeated idempotency key answered with the first call's ``clOrdId``."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import attrs

from qwentrade.app.trading.checks import _Entry
from qwentrade.app.trading.core import REFUSALS, TradingBase, _error
from qwentrade.app.trading.inputs import MAX_REASON
from qwentrade.domain.errors import DomainError, InvalidInput, OrderNotFound, OutcomeUnknown
from qwentrade.domain.orders import IntentAction, IntentState, OrderIntent
from qwentrade.domain.plans import Side
from qwentrade.domain.records import IntentRecord, RelationRecord
from qwentrade.domain.venue import (
    AlgoOrder,
    AttachedAlgo,
    ExchangePosition,
    Order,
    OrderRequest,
    PosSide,
)

log = logging.getLogger(__name__)


class OrderSending(TradingBase):
    """Sends orders through their intents and records what the venue answers."""

    def _entry_request(self, stored: IntentRecord, entry: _Entry) -> OrderRequest:
        attached: tuple[AttachedAlgo, ...] = ()
        if entry.stop_loss is not None or entry.take_profit is not None:
            attached = (
                AttachedAlgo(
                    sl_trigger_price=entry.stop_loss,
                    tp_trigger_price=entry.take_profit,
                    attach_algo_client_order_id=_algo_client_id(stored, "p"),
                ),
            )
        return OrderRequest(
            symbol=stored.symbol,
            side=stored.to_intent().order_side,
            size=stored.size,
            client_order_id=stored.client_order_id,
            order_type=entry.order_type,
            price=entry.price,
            pos_side=self._pos_side(Side[stored.side]),
            td_mode=self._td_mode(),
            attached_algos=attached,
        )

    def _order_request(
        self, stored: IntentRecord, size: Decimal, reduce_only: bool, held: ExchangePosition
    ) -> OrderRequest:
        """An order on the position ``held``, in its margin mode (whatever the config says
        for new positions now)."""
        pos_side = self._pos_side(Side[stored.side])
        return OrderRequest(
            symbol=stored.symbol,
            side=stored.to_intent().order_side,
            size=size,
            client_order_id=stored.client_order_id,
            pos_side=pos_side,
            td_mode=held.margin_mode,
            reduce_only=reduce_only and pos_side is PosSide.NET,
        )

    def _send(
        self, stored: IntentRecord, request: OrderRequest, relation: RelationRecord | None
    ) -> Order | None:
        """Mark SENT, place, and record the outcome (see the module docstring)."""
        sent = self._move(stored, "send")
        try:
            order = self.exchange.place_order(request)
        except REFUSALS as e:
            self._move(sent, "reject", error=_error(e))
            if relation is not None:
                self._fail(relation, f"rejected: {_error(e)}")
            raise
        except DomainError as e:
            lost = self._move(sent, "answer_lost", error=_error(e))
            order = self._lookup(lost)
            if order is None:
                raise OutcomeUnknown(
                    f"the answer to {stored.client_order_id} ({stored.action.lower()} "
                    f"{stored.symbol}) was lost ({_error(e)}); it is not sent again: "
                    "reconciliation looks it up by clOrdId"
                ) from e
            sent = lost
        self._record(sent, order, relation)
        return order

    def _lookup(self, stored: IntentRecord) -> Order | None:
        """The order of ``stored`` by its clOrdId (None when not found or not answered)."""
        try:
            return self.exchange.get_order(stored.symbol, client_order_id=stored.client_order_id)
        except OrderNotFound:
            if stored.state == IntentState.SENT.name:
                self._move(stored, "answer_lost", error="not found right after sending")
            return None
        except DomainError as e:
            log.warning("looking up %s failed: %s", stored.client_order_id, _error(e))
            return None

    def _record(self, stored: IntentRecord, order: Order, relation: RelationRecord | None) -> None:
        # the order row first: what follows (the acknowledged intent, the opened relation)
        # is told with its fill (the notifying repositories read it); a crash in between
        # leaves the intent SENT, settled by its lookup, and the upsert is idempotent
        self.history.upsert_orders([order.to_record()])
        if stored.state != IntentState.ACKNOWLEDGED.name:
            self._move(stored, "acknowledge", order_id=order.order_id)
        if relation is None or stored.action != IntentAction.OPEN.name:
            return
        relation = self.relations.get(relation.client_order_id) or relation
        if relation.status != "OPEN":
            return
        changes: dict[str, Any] = {"open_order_id": order.order_id, "updated_at": self.clock.now()}
        if order.filled_size > 0:
            changes["open_time"] = relation.open_time or order.updated_at
            held = self._held(order.symbol)
            if held is not None:
                changes["pos_id"] = held.pos_id
            algo = self._attached_algo(stored, order)
            if algo is not None:
                if algo.sl_trigger_price is not None:
                    changes["stop_loss_algo_id"] = algo.algo_id
                if algo.tp_trigger_price is not None:
                    changes["take_profit_algo_id"] = algo.algo_id
        self.relations.save(attrs.evolve(relation, **changes))

    def _live_algo(self, stored: IntentRecord) -> AlgoOrder | None:
        """The live algo order placed for the algo intent ``stored`` (None when none is
        live, or the venue did not answer)."""
        try:
            live = self.exchange.open_algos(stored.symbol)
        except DomainError as e:
            log.warning("looking up %s failed: %s", stored.client_order_id, _error(e))
            return None
        return next((a for a in live if a.algo_client_order_id == stored.client_order_id), None)

    def _attached_algo(self, stored: IntentRecord, order: Order) -> AlgoOrder | None:
        wanted = _algo_client_id(stored, "p")
        for algo in self.exchange.open_algos(order.symbol):
            if algo.algo_client_order_id == wanted or algo.algo_id in order.attached_algo_ids:
                return algo
        return None

    def _move(self, stored: IntentRecord, action: str, **kw: str) -> IntentRecord:
        moved = IntentRecord.from_intent(stored.to_intent().apply(action, **kw), self.clock.now())
        if not self.intents.update(moved, stored.state):
            current = self.intents.get(stored.intent_id)
            raise OutcomeUnknown(
                f"intent {stored.intent_id!r} changed under us (now "
                f"{current.state if current else 'gone'}): another worker handles it"
            )
        return moved

    def _store_intent(
        self, intent_id: str, symbol: str, action: IntentAction, side: Side, contracts: Decimal
    ) -> IntentRecord:
        """Store a new market order's intent (NEW), stamped now; an earlier one with the
        same id is returned as it is (IntentRepository.add is idempotent)."""
        now = self.clock.now()
        intent = OrderIntent(intent_id, symbol, action, side, contracts, now)
        return self.intents.add(IntentRecord.from_intent(intent, now))

    def _repeat(self, key: str, action: IntentAction) -> str | None:
        """The clOrdId of an earlier call with ``key``; finishes what it left undone.

        NEW (never sent: a crash before sending): None, and the caller goes on with the
        same intent (same clOrdId; sending it is safe, nothing was sent). SENT or
        OUTCOME_UNKNOWN: looked up once, recorded when found, never re-sent. Anything
        else: its clOrdId as it is."""
        stored = self.intents.get(key)
        if stored is None:
            return None
        if stored.action != action.name:
            raise InvalidInput(
                "key", f"{key!r} was used for a {stored.action.lower()} order, not {action.value}"
            )
        if stored.state == IntentState.NEW.name:
            return None  # never sent: the caller goes on with the same intent and clOrdId
        if stored.state in (IntentState.SENT.name, IntentState.OUTCOME_UNKNOWN.name):
            order = self._lookup(stored)
            if order is not None:
                self._record(
                    self.intents.get(stored.intent_id) or stored,
                    order,
                    self.relations.get(stored.client_order_id),
                )
        return stored.client_order_id

    def _fail(self, relation: RelationRecord, reason: str) -> None:
        now = self.clock.now()
        self.relations.save(
            attrs.evolve(
                relation,
                status="FAILED",
                close_time=now,
                updated_at=now,
                close_reason=reason[:MAX_REASON],
            )
        )


def _algo_client_id(stored: IntentRecord, leg: str) -> str:
    from qwentrade.domain.orders import derive_client_order_id

    return derive_client_order_id(stored.to_intent(), leg)
