"""The private-stream consumer of :class:`~qwentrade.app.reconcile.ReconciliationService`
(a base class of it: the service owns the queue, the repositories and the reconcile
requests this uses).

``on_event`` (called on the stream's thread) puts each event on a
BOUNDED queue (:data:`EVENT_QUEUE_SIZE`, the original's position queue) and returns; one
worker thread takes events off and:

- ``Order`` / ``ExchangePosition`` / ``StreamStatus`` -> ``history_sync.record``
  (order_history / position_history, idempotent upserts; a reconnect fills the gap);
- an entry ``Order`` that filled -> ``trading.record_order`` (the order row, then the
  relation's ``open_time``, ``pos_id`` and algo ids) when the relation already names that
  order and has no open time yet;
- ``ExchangePosition`` of size 0 -> ``trading.handle_external_close(symbol, reason)`` when
  the symbol has OPEN relations and no intent touched it within the grace (our own close
  in flight records its own reason); otherwise a reconcile once the grace has passed;
- ``AlgoOrder`` effective / order_failed -> the relation forgets that algo id (it is no
  longer live) and the next close of the symbol is reported as ``stop_loss`` or
  ``take_profit``; a stop-loss canceled or failed -> a reconcile (the stop-loss guard);
- ``StreamStatus`` connected -> reconcile.

Events may repeat: every step above is idempotent. When the queue is full, ``on_event``
blocks up to :data:`QUEUE_PUT_TIMEOUT` seconds; if it is still full the event is dropped,
COUNTED (``dropped``, and the ``system_status`` note), logged, and a reconcile is
requested: reconciliation re-reads positions, orders and algo orders from REST and
HistorySync's periodic run refills the history, so a dropped event is never lost silently.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import attrs

from qwentrade.domain.records import RelationRecord
from qwentrade.domain.venue import (
    AlgoLeg,
    AlgoOrder,
    AlgoState,
    ExchangePosition,
    Order,
    StreamEvent,
    StreamStatus,
    StreamStatusKind,
)
from qwentrade.ports.clock import Clock

log = logging.getLogger(__name__)

EVENT_QUEUE_SIZE = 200  # the original's position-data queue (its close-event queue: 100)
QUEUE_PUT_TIMEOUT = 1.0  # seconds on_event waits for room before dropping (and reconciling)
_LEG_REASONS = {AlgoLeg.STOP_LOSS: "stop_loss", AlgoLeg.TAKE_PROFIT: "take_profit"}


class StreamConsumer:
    """Turns private-stream events into history rows, relation updates, external closes
    and reconcile requests (module docstring). The service provides what it uses."""

    _queue: queue.Queue[StreamEvent]
    _history: Any
    _intents: Any
    _relations: Any
    _trading: Any
    _clock: Clock
    _close_reasons: dict[str, tuple[str, datetime]]  # symbol -> (leg's reason, triggered)
    dropped: int

    # the service's own: RECONCILE_INTENT_GRACE read live; a reconcile request
    _grace: Callable[[], timedelta]
    request_reconcile: Callable[..., None]

    def on_event(self, event: StreamEvent) -> None:
        """Hand ``event`` to the worker (called on the stream's thread); see the module
        docstring for what happens when the queue stays full."""
        try:
            self._queue.put(event, timeout=QUEUE_PUT_TIMEOUT)
        except queue.Full:
            self.dropped += 1
            log.warning(
                "reconciliation queue full (%d): dropped a %s event (%d so far); reconciling",
                EVENT_QUEUE_SIZE,
                type(event).__name__,
                self.dropped,
            )
            self.request_reconcile("queue_overflow")

    def handle_event(self, event: StreamEvent) -> None:
        """Apply one stream event (idempotent; normally called by the worker thread)."""
        if isinstance(event, StreamStatus):
            self._record(event)  # HistorySync fills the outage's gap over REST
            if event.kind is StreamStatusKind.CONNECTED:
                self.request_reconcile("reconnect")
            else:
                log.warning("private stream disconnected: %s", event.reason or "no reason given")
        elif isinstance(event, Order):
            self._record(event)
            self._entry_filled(event)
        elif isinstance(event, ExchangePosition):
            self._record(event)
            if not event.is_open:
                self._position_closed(event)
        elif isinstance(event, AlgoOrder):
            self._algo_changed(event)

    def _record(self, event: Order | ExchangePosition | StreamStatus) -> None:
        if self._history is not None:
            self._history.record(event)

    def _entry_filled(self, order: Order) -> None:
        if order.filled_size <= 0:
            return
        relation = self._relations.get(order.client_order_id)
        # only once TradingService has recorded the relation with this order (never race
        # its first write) and only the first fill; TradingService records it as it would
        # its own answer: the order row (the "opened" notice tells its fill) before the
        # relation's open time, position id and algo ids
        if relation is None or relation.open_order_id != order.order_id or relation.open_time:
            return
        self._trading.record_order(order)

    def _recently_touched(self, symbol: str) -> bool:
        now, grace = self._clock.now(), self._grace()
        if self._intents.unresolved(symbol):
            return True
        newest = self._intents.find(symbol=symbol, limit=1)
        return bool(newest) and now - newest[0].updated_at < grace

    def _position_closed(self, position: ExchangePosition) -> None:
        if not self._relations.find(symbol=position.symbol, status="OPEN", limit=1):
            return
        if self._recently_touched(position.symbol):
            self.request_reconcile("position_closed", delay=self._grace().total_seconds())
            return
        reason = self._close_reason(position.symbol)
        self._trading.handle_external_close(position.symbol, reason=reason)

    def _close_reason(self, symbol: str) -> str:
        """The reason of the next close of ``symbol``: the leg of the algo order seen
        triggering, unless it triggered before every OPEN relation of the symbol was
        created (a partial take-profit of an earlier position: stale), else external
        (TradingService then asks the venue what closed it)."""
        found = self._close_reasons.pop(symbol, None)
        if found is None:
            return "external"
        reason, at = found
        relations = self._relations.find(symbol=symbol, status="OPEN", limit=None)
        if relations and all(at < r.created_at for r in relations):
            return "external"
        return reason

    def _algo_changed(self, algo: AlgoOrder) -> None:
        if algo.state in (AlgoState.EFFECTIVE, AlgoState.ORDER_FAILED):
            if algo.state is AlgoState.EFFECTIVE and algo.triggered_leg is not None:
                at = algo.triggered_at or algo.updated_at
                self._close_reasons[algo.symbol] = (_LEG_REASONS[algo.triggered_leg], at)
            relation = self._relations.by_algo_id(algo.algo_id)
            if relation is not None and relation.status == "OPEN":
                self._relations.save(_forget_algo(relation, algo.algo_id, self._clock.now()))
        stop_gone = algo.state in (AlgoState.CANCELED, AlgoState.ORDER_FAILED)
        if stop_gone and algo.sl_trigger_price is not None:
            self.request_reconcile("stop_loss_gone", delay=self._grace().total_seconds())


def _forget_algo(relation: RelationRecord, algo_id: str, now: datetime) -> RelationRecord:
    if relation.stop_loss_algo_id == algo_id:
        relation = attrs.evolve(relation, stop_loss_algo_id=None)
    if relation.take_profit_algo_id == algo_id:
        relation = attrs.evolve(relation, take_profit_algo_id=None)
    return attrs.evolve(relation, updated_at=now)
