"""ReconciliationService: the shell around ``domain.reconcile`` and the private-stream consumer.

``reconcile(reason)`` reads both sides (unresolved and recent intents, trading relations,
positions, open orders, live algo orders, and the lookup of each settled intent's order by
its client order id), asks :func:`~qwentrade.domain.reconcile.diff` what to do, does it,
and returns a :class:`ReconcileReport` (also logged, and written to ``system_status``
under ``reconciliation``). It runs:

- at start (``reason="start"``: no in-flight grace for the intents created before this
  service was built, ``started_at``: their process is gone (one instance trades a symbol
  at a time, see TradingService's lease); those this process created since, e.g. by the
  pending monitor or the signal policy already trading while the start round runs on
  the worker, keep the grace like in any other round);
- after every private-stream (re)connect (``StreamStatus`` connected);
- every ``RECONCILE_INTERVAL`` seconds (read live);
- soon after a stop-loss disappears (an algo canceled or failed), once the symbol's
  recent intents are older than ``RECONCILE_INTENT_GRACE``.

The private-stream consumer is :class:`~qwentrade.app.reconcile_stream.StreamConsumer`
(app/reconcile_stream.py) and the stop-loss guard, which places, merges and cancels algo
orders, :class:`~qwentrade.app.reconcile_guard.StopLossGuard` (app/reconcile_guard.py):
both are bases of the service.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

import attrs

from qwentrade.app.reconcile_guard import StopLossGuard
from qwentrade.app.reconcile_stream import EVENT_QUEUE_SIZE, StreamConsumer
from qwentrade.domain.errors import DomainError, OrderNotFound
from qwentrade.domain.orders import IntentAction
from qwentrade.domain.reconcile import (
    CancelAlgos,
    CloseExternally,
    DatabaseView,
    ExchangeView,
    FailRelation,
    MergeStops,
    PlaceStopLoss,
    PointRelation,
    ReconcileAction,
    ReconcileRules,
    RecordRelation,
    ResolveIntent,
    diff,
)
from qwentrade.domain.records import IntentRecord
from qwentrade.domain.venue import (
    Order,
    StreamEvent,
)
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.exchange import Exchange, PrivateStream

log = logging.getLogger(__name__)

COMPONENT = "reconciliation"
RECENT_INTENTS = 200  # newest intents read to find the symbols touched within the grace
INTERVAL_KEY = "RECONCILE_INTERVAL"
GRACE_KEY = "RECONCILE_INTENT_GRACE"
DEFAULT_STOP_KEY = "STOP_LOSS_GUARD_DEFAULT_PERCENT"


class Trading(Protocol):
    """The part of TradingService reconciliation uses."""

    def handle_external_close(self, symbol: str, reason: str = ...) -> Any: ...

    def resolve_intent(self, cl_ord_id: str) -> IntentRecord | None: ...

    def working_symbols(self) -> frozenset[str]: ...

    def record_order(self, order: Order) -> None: ...


class HistoryRecorder(Protocol):
    """The part of HistorySync the stream consumer uses."""

    def record(self, event: Any) -> int: ...


class Repositories(Protocol):
    """The repositories reconciliation reads and writes (SqlRepositories/MemoryRepositories)."""

    intents: Any
    relations: Any
    status: Any


@attrs.frozen
class ReconcileReport:
    """What one reconciliation found and did.

    ``actions`` are the decided actions; ``failures`` the ones that could not be carried
    out (``"<action>: <error>"``, retried next round). ``adopted`` lists the adopted
    positions (``symbol direction``), ``stop_losses`` the stop-loss algo ids placed by the
    guard, ``resolved`` the intents settled as ``intent_id -> state``, ``closed`` the
    symbols closed as external closes, ``canceled`` the stale algo ids canceled.
    """

    reason: str
    started_at: datetime
    actions: tuple[ReconcileAction, ...] = ()
    failures: tuple[str, ...] = ()
    adopted: tuple[str, ...] = ()
    stop_losses: tuple[str, ...] = ()
    resolved: tuple[str, ...] = ()
    closed: tuple[str, ...] = ()
    canceled: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.failures

    def summary(self) -> str:
        parts = [
            f"{label} {', '.join(values)}"
            for label, values in (
                ("adopted", self.adopted),
                ("stop-loss placed", self.stop_losses),
                ("intents", self.resolved),
                ("closed externally", self.closed),
                ("stale algos canceled", self.canceled),
                ("FAILED", self.failures),
            )
            if values
        ]
        return f"{self.reason}: " + ("; ".join(parts) if parts else "in line")


class ReconciliationService(StreamConsumer, StopLossGuard):
    """Keeps the database in line with the exchange; consumes the private stream.

    ``trading`` settles found orders (``resolve_intent``) and handles external closes
    (``handle_external_close``); ``history_sync`` (optional) stores stream orders and
    positions; ``stream`` (optional) is consumed between ``start()`` and ``stop()``.
    """

    def __init__(
        self,
        exchange: Exchange,
        repositories: Repositories,
        trading: Trading,
        history_sync: HistoryRecorder | None,
        config: ConfigStore,
        clock: Clock,
        stream: PrivateStream | None = None,
    ) -> None:
        self._exchange = exchange
        self._intents = repositories.intents
        self._relations = repositories.relations
        self._status = repositories.status
        self._trading = trading
        self._history = history_sync
        self._config = config
        self._clock = clock
        self._stream = stream
        self._queue: queue.Queue[StreamEvent] = queue.Queue(maxsize=EVENT_QUEUE_SIZE)
        self._lock = threading.Lock()  # one reconciliation at a time
        self._requests: dict[str, datetime] = {}  # reason -> not before
        self._requests_lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._ticks: dict[str, Decimal] = {}
        self._close_reasons: dict[str, tuple[str, datetime]] = {}
        self._guard_count = 0
        # intents created before this are an earlier process's (no grace at start)
        self.started_at = clock.now()
        self.dropped = 0
        self.last_report: ReconcileReport | None = None

    # -- config ----------------------------------------------------------------------------

    def _seconds(self, key: str) -> float:
        return float(self._config.get(key))

    def _grace(self) -> timedelta:
        return timedelta(seconds=self._seconds(GRACE_KEY))

    # -- reconciliation --------------------------------------------------------------------

    def reconcile(self, reason: str = "manual") -> ReconcileReport:
        """Compare and repair now; returns the report (see the module docstring).

        ``reason="start"`` (also among the reasons of a combined round, ``"reconnect,
        start"``) settles every unresolved intent created before :attr:`started_at`
        regardless of its age; this process's own keep the grace. The symbols the trading
        service is working on right now (``working_symbols()``) are left alone.
        """
        with self._lock:
            # what this process is working on first: an operation starting after this
            # read writes intents younger than the round's ``now``, in flight anyway
            working = self._trading.working_symbols()
            now = self._clock.now()
            rules = ReconcileRules(
                now=now,
                grace=self._grace(),
                working=working,
                default_stop_loss=Decimal(str(self._seconds(DEFAULT_STOP_KEY))) / 100,
                started_at=self.started_at if "start" in reason.split(", ") else None,
            )
            try:
                database, exchange = self._views(rules)
            except DomainError as e:
                report = ReconcileReport(reason, now, failures=(f"reading: {e}",))
                self._publish(report)
                return report
            actions = diff(database, exchange, rules)
            report = self._apply(reason, now, actions)
            self._publish(report)
            return report

    def _views(self, rules: ReconcileRules) -> tuple[DatabaseView, ExchangeView]:
        unresolved = list(self._intents.unresolved())
        recent = [
            i
            for i in self._intents.find(limit=RECENT_INTENTS)
            if i.state not in ("NEW", "SENT", "OUTCOME_UNKNOWN")
            and rules.now - i.updated_at < rules.grace
        ]
        relations = {r.client_order_id: r for r in self._relations.find(status="OPEN", limit=None)}
        for intent in unresolved:
            if intent.client_order_id not in relations:
                found = self._relations.get(intent.client_order_id)
                if found is not None:
                    relations[found.client_order_id] = found
        # the exchange: positions, orders and algos first, then the lookups
        positions = self._exchange.positions()
        open_orders = self._exchange.open_orders()
        open_algos = self._exchange.open_algos()
        lookups: dict[str, Order | None] = {}
        for intent in unresolved:
            if IntentAction[intent.action].is_algo or rules.in_flight(intent):
                continue
            try:
                lookups[intent.client_order_id] = self._exchange.get_order(
                    intent.symbol, client_order_id=intent.client_order_id
                )
            except OrderNotFound:
                lookups[intent.client_order_id] = None
            except DomainError as e:  # transient: the intent stays, its symbol waits
                log.warning("reconciliation: lookup of %s failed: %s", intent.client_order_id, e)
        symbols = {p.symbol for p in positions}
        database = DatabaseView(intents=[*unresolved, *recent], relations=relations.values())
        exchange = ExchangeView(
            positions=positions,
            open_orders=open_orders,
            open_algos=open_algos,
            lookups=lookups,
            tick_sizes=self._tick_sizes(symbols),
        )
        return database, exchange

    def _tick_sizes(self, symbols: set[str]) -> dict[str, Decimal]:
        if not symbols <= self._ticks.keys():
            self._ticks = {i.inst_id: i.tick_sz for i in self._exchange.instruments()}
        return self._ticks

    def _apply(self, reason: str, now: datetime, actions: list[ReconcileAction]) -> ReconcileReport:
        failures: list[str] = []
        adopted: list[str] = []
        stops: list[str] = []
        resolved: list[str] = []
        closed: list[str] = []
        canceled: list[str] = []
        for action in actions:
            try:
                if isinstance(action, ResolveIntent):
                    if self._settle(action):
                        resolved.append(f"{action.after.intent_id} {action.after.state}")
                elif isinstance(action, RecordRelation):
                    self._relations.save(action.relation)
                    if action.adopted:
                        adopted.append(f"{action.relation.symbol} {action.relation.side}")
                        log.warning(
                            "reconciliation adopted an unknown %s position of %s (%s)",
                            action.relation.side,
                            action.relation.symbol,
                            action.relation.pos_id,
                        )
                elif isinstance(action, FailRelation):
                    relation = self._relations.get(action.relation_id)
                    if relation is not None and relation.status == "OPEN":
                        self._relations.save(
                            attrs.evolve(
                                relation,
                                status="FAILED",
                                close_reason=action.reason,
                                updated_at=now,
                            )
                        )
                elif isinstance(action, PlaceStopLoss):
                    stops.append(self._place_stop_loss(action, now))
                elif isinstance(action, MergeStops):
                    stops.append(self._merge_stops(action, now))
                elif isinstance(action, PointRelation):
                    relation = self._relations.get(action.relation_id)
                    if relation is not None and relation.status == "OPEN":
                        self._relations.save(
                            attrs.evolve(
                                relation,
                                stop_loss_algo_id=action.algo_id,
                                stop_loss_price=action.trigger_price,
                                updated_at=now,
                            )
                        )
                elif isinstance(action, CloseExternally):
                    close_reason = self._close_reason(action.symbol)
                    self._trading.handle_external_close(action.symbol, reason=close_reason)
                    closed.append(f"{action.symbol} {action.direction}")
                elif isinstance(action, CancelAlgos):
                    self._cancel(action.algos)
                    canceled.extend(algo_id for _, algo_id in action.algos)
            except DomainError as e:
                failures.append(f"{type(action).__name__} {_subject(action)}: {e}")
                log.error("reconciliation could not %s: %s", type(action).__name__, e)
        return ReconcileReport(
            reason,
            now,
            tuple(actions),
            tuple(failures),
            tuple(adopted),
            tuple(stops),
            tuple(resolved),
            tuple(closed),
            tuple(canceled),
        )

    def _settle(self, action: ResolveIntent) -> bool:
        """Store the intent's settlement; an order found for a sent intent is handed to
        TradingService first, which also finishes that call's bookkeeping (relation,
        order history) the way an uninterrupted call would have. Algo intents are settled
        here, from the live algo orders this round read (no relation or history to
        finish; TradingService.resolve_intent would look them up the same way)."""
        before, after = action.before, action.after
        found = after.state == "ACKNOWLEDGED" and before.state in ("SENT", "OUTCOME_UNKNOWN")
        if found and not IntentAction[before.action].is_algo:
            settled = self._trading.resolve_intent(before.client_order_id)
            if settled is not None and settled.state == "ACKNOWLEDGED":
                return True
            if settled is not None and settled.state != before.state:
                if settled.state not in ("SENT", "OUTCOME_UNKNOWN"):
                    return False  # settled otherwise meanwhile
                moved = settled.to_intent().apply("acknowledge", order_id=after.order_id)
                after = IntentRecord.from_intent(moved, after.updated_at)
                return bool(self._intents.update(after, expected_state=settled.state))
        return bool(self._intents.update(after, expected_state=before.state))

    def _publish(self, report: ReconcileReport) -> None:
        self.last_report = report
        summary = report.summary()
        if self.dropped:
            summary += f" (stream events dropped: {self.dropped})"
        level = logging.INFO if report.ok and not report.adopted else logging.WARNING
        log.log(level, "reconciliation %s", summary)
        try:
            now = self._clock.now()
            self._status.record_run(
                COMPONENT,
                now,
                report.ok,
                rows=len(report.actions),
                error="; ".join(report.failures),
            )
            self._status.set_state(COMPONENT, "OK" if report.ok else "FAILING", now, summary[:500])
        except Exception:  # a status write must never stop reconciliation
            log.exception("reconciliation could not write its status")

    # -- requests and threads ---------------------------------------------------------------

    def request_reconcile(self, reason: str, delay: float = 0.0) -> None:
        """Ask the worker to reconcile ``delay`` seconds (of the clock) from now."""
        due = self._clock.now() + timedelta(seconds=delay)
        with self._requests_lock:
            earlier = self._requests.get(reason)
            self._requests[reason] = due if earlier is None else min(earlier, due)

    def _due_request(self) -> str | None:
        now = self._clock.now()
        with self._requests_lock:
            due = [r for r, at in self._requests.items() if at <= now]
            for reason in due:
                del self._requests[reason]
        return ", ".join(sorted(due)) or None

    def pending_requests(self) -> dict[str, datetime]:
        """Reconciliations asked for and not yet run: reason -> not before."""
        with self._requests_lock:
            return dict(self._requests)

    def start(self) -> None:
        """Reconcile (``start``) on the worker thread, then consume the stream and
        reconcile every ``RECONCILE_INTERVAL`` seconds until :meth:`stop`."""
        if self._threads:
            return
        self.request_reconcile("start")
        for name, target in (("reconcile-worker", self._work), ("reconcile-timer", self._tick)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        if self._stream is not None:
            self._stream.connect(self.on_event)

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop consuming and reconciling; True when the threads ended within ``timeout``."""
        self._stop.set()
        if self._stream is not None:
            self._stream.close()
        for thread in self._threads:
            thread.join(timeout)
        alive = any(t.is_alive() for t in self._threads)
        self._threads = []
        return not alive

    def _tick(self) -> None:
        while not self._clock.wait(self._stop, self._seconds(INTERVAL_KEY)):
            self.request_reconcile("periodic")

    def _work(self) -> None:
        while not self._stop.is_set():
            reason = self._due_request()
            if reason is not None:
                self._safely(self.reconcile, reason)
            try:
                event = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            self._safely(self.handle_event, event)

    def _safely(self, work: Callable[[Any], Any], argument: Any) -> None:
        try:
            work(argument)
        except Exception:  # the worker must outlive any one failure
            log.exception("reconciliation worker failed on %s", type(argument).__name__)


def _subject(action: ReconcileAction) -> str:
    if isinstance(action, ResolveIntent):
        return action.before.intent_id
    if isinstance(action, RecordRelation):
        return action.relation.client_order_id
    return action.symbol
