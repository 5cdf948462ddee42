"""The monitor of pending trigger orders: ``check``, the pass that expires, triggers and
opens them (:class:`PendingChecks`, a base class of
:class:`~qwentrade.app.pending.PendingOrderService`, which owns the repository, the
trading service and the clock this uses), and :class:`PendingMonitor`, which runs it on a
scheduler thread.

Rules (continuing app/pending.py's 1-3, on creating and cancelling):

4. ``check(now)`` is one monitor pass. Orders past ``expire_at`` become EXPIRED (expiry wins
   over a trigger at the same instant). For an order whose level the last price has
   crossed, TRIGGERED is written FIRST, by compare-and-set from PENDING (of two monitors
   racing, only one wins), and only then is ``open_position(..., key="pending:<id>",
   pending_order_id=id)`` called. Its outcome goes to the order's ``reason``: ``opened
   <clOrdId>``, or ``open failed: <error>`` when the trading service refused for good.
5. Resuming: a TRIGGERED order whose ``reason`` is still empty had its open interrupted (a
   crash between the two writes, or a transient error: the exchange unreachable, the
   outcome unknown). A later pass, at least :data:`RESUME_AFTER` after the trigger, calls
   ``open_position`` again with the SAME key: if the first call reached the trading
   service, that call's clOrdId comes back and nothing is sent again; otherwise it opens
   now. This is done only until the order's own ``expire_at`` (the user allowed an open up
   to then); after it the order is marked ``not opened: ...`` and left alone.
6. Prices are the last traded price: the close of the newest (forming) 15m candle of the
   exchange, read once per symbol per pass, and only for symbols with a PENDING order.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

import attrs

from qwentrade.app.scheduler import JobStatus, Scheduler
from qwentrade.domain.errors import (
    AuthFailed,
    DomainError,
    ExchangeUnavailable,
    OutcomeUnknown,
    RateLimited,
    SymbolLeased,
)
from qwentrade.domain.market import require_utc
from qwentrade.domain.pending import PENDING, PendingOrder
from qwentrade.domain.plans import Side
from qwentrade.domain.records import PendingOrderRecord
from qwentrade.domain.schedule import Every
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.repositories import PendingRepository

if TYPE_CHECKING:
    from qwentrade.app.pending import PendingOrderService

# the service's logger: these lines were logged under its name before the split
log = logging.getLogger("qwentrade.app.pending")

MONITOR_INTERVAL_KEY = "PENDING_MONITOR_INTERVAL"
MAX_EXPIRE_HOURS = 720.0  # 30 days, as the config key allows
# A TRIGGERED order without an outcome is resumed only this long after its trigger, so a
# second monitor never re-calls an open that the first is still making.
RESUME_AFTER = timedelta(seconds=30)
# How many TRIGGERED orders (newest first) one pass looks at for interrupted opens: they
# are all younger than MAX_EXPIRE_HOURS, the longest an order can wait to be resumed.
RESUME_PAGE = 200
# Errors after which open_position may still succeed with the same key: resumed later.
TRANSIENT_ERRORS: tuple[type[DomainError], ...] = (
    OutcomeUnknown,
    ExchangeUnavailable,
    RateLimited,
    AuthFailed,
    SymbolLeased,  # another instance trades the symbol now; the same key resolves it later
)
OPENED, FAILED, NOT_OPENED = "opened ", "open failed: ", "not opened: "


class PositionOpener(Protocol):
    """The part of ``TradingService`` that a triggered pending order calls."""

    def open_position(
        self,
        symbol: str,
        side: str | Side,
        amount: object,
        stop_loss_trigger: object | None = None,
        take_profit_trigger: object | None = None,
        leverage: int | None = None,
        order_type: str = "market",
        price: object | None = None,
        signal_id: int | None = None,
        *,
        key: str | None = None,
        pending_order_id: str | None = None,
    ) -> str:
        """Open a position with ``amount`` USDT of margin; returns the entry's clOrdId. The
        same ``key`` never opens twice: a repeated call returns the first call's clOrdId."""
        ...


@attrs.frozen
class CheckCounts:
    """What one monitor pass did: orders expired, superseded (a straggler older than its
    symbol's newest PENDING one), triggered, opened (this pass or resumed), failed for
    good, left to resume (a transient error), and symbols whose price could not be read."""

    expired: int = 0
    superseded: int = 0
    triggered: int = 0
    opened: int = 0
    failed: int = 0
    retrying: int = 0
    price_errors: int = 0


class PendingChecks:
    """One monitor pass over the pending orders (module rules). The service provides what
    it uses."""

    _pending: PendingRepository
    _trading: PositionOpener
    _clock: Clock
    _checking: threading.Lock
    last_price: Callable[[str], Decimal]

    def check(self, now: datetime | None = None) -> CheckCounts:
        """One monitor pass at ``now`` (default: the clock's time); see the module rules."""
        now = self._clock.now() if now is None else require_utc(now, "now")
        counts: dict[str, int] = {}
        with self._checking:
            live = self._live_orders(now, counts)
            prices = self._prices({o.symbol for o in live}, counts)
            for order in live:
                price = prices.get(order.symbol)
                if price is not None and order.triggers(price):
                    self._trigger(order, price, now, counts)
            self._resume(now, counts)
        return CheckCounts(**counts)

    # -- the monitor's steps ------------------------------------------------------------

    def _live_orders(self, now: datetime, counts: dict[str, int]) -> list[PendingOrder]:
        """PENDING orders still live: expired ones are marked, stragglers superseded."""
        newest: dict[str, PendingOrder] = {}
        waiting: list[PendingOrder] = []
        for record in self._pending.open():  # oldest first
            order = record.to_pending()
            if order.expired(now):
                if self._write(order.apply("expire", now)[0], now):
                    _add(counts, "expired")
                    log.info("pending order %s expired", order.id)
                continue
            waiting.append(order)
            newest[order.symbol] = order
        live = []
        for order in waiting:
            keep = newest[order.symbol]
            if order.id == keep.id:
                live.append(order)
                continue
            done = order.apply("cancel", now, reason=f"superseded by {keep.id}")[0]
            if self._write(done, now):
                _add(counts, "superseded")
        return live

    def _prices(self, symbols: set[str], counts: dict[str, int]) -> dict[str, Decimal]:
        prices = {}
        for symbol in sorted(symbols):
            try:
                prices[symbol] = self.last_price(symbol)
            except DomainError as e:
                _add(counts, "price_errors")
                log.warning("pending monitor: no price for %s this pass: %s", symbol, e)
        return prices

    def _trigger(self, order: PendingOrder, price: Decimal, now: datetime, counts) -> None:
        triggered = order.apply("trigger", now, price)[0]
        if not self._write(triggered, now):
            return  # cancelled, or another monitor triggered it first: it owns the open
        _add(counts, "triggered")
        log.info(
            "pending order %s triggered: %s %s at %s (level %s)",
            order.id,
            order.side.name,
            order.symbol,
            price,
            order.trigger_price,
        )
        self._open(PendingOrderRecord.from_pending(triggered, updated_at=now), now, counts)

    def _resume(self, now: datetime, counts: dict[str, int]) -> None:
        """Re-run the open of TRIGGERED orders that have no outcome yet (rule 5)."""
        horizon = now - timedelta(hours=MAX_EXPIRE_HOURS)
        for record in self._pending.find(status="TRIGGERED", limit=RESUME_PAGE):
            if record.reason or record.created_at < horizon:
                continue
            closed_at = record.closed_at or record.updated_at
            if now - closed_at < RESUME_AFTER:
                continue  # the pass that triggered it may still be opening
            if now >= record.expire_at:
                note = f"{NOT_OPENED}the open was interrupted and the order expired at "
                self._note(record, note + record.expire_at.isoformat(), now)
                _add(counts, "failed")
                log.warning("pending order %s: triggered but never opened; expired", record.id)
                continue
            log.info("pending order %s: resuming its interrupted open", record.id)
            self._open(record, now, counts)

    def _open(self, record: PendingOrderRecord, now: datetime, counts) -> None:
        try:
            cl_ord_id = self._trading.open_position(
                record.symbol,
                record.side,
                record.amount,
                stop_loss_trigger=record.stop_loss_trigger,
                take_profit_trigger=record.take_profit_trigger,
                leverage=record.leverage,
                signal_id=record.signal_id,
                key=f"pending:{record.id}",
                pending_order_id=record.id,
            )
        except TRANSIENT_ERRORS as e:
            _add(counts, "retrying")
            log.warning("pending order %s: open not confirmed, retried later: %s", record.id, e)
            return
        except DomainError as e:
            self._note(record, f"{FAILED}{type(e).__name__}: {e}", now)
            _add(counts, "failed")
            log.warning("pending order %s: open refused: %s", record.id, e)
            return
        except Exception:
            _add(counts, "retrying")
            log.exception("pending order %s: open failed unexpectedly; retried later", record.id)
            return
        self._note(record, OPENED + cl_ord_id, now)
        _add(counts, "opened")
        log.info("pending order %s opened %s", record.id, cl_ord_id)

    def _note(self, record: PendingOrderRecord, reason: str, now: datetime) -> None:
        noted = attrs.evolve(record, reason=reason[:500], updated_at=now)
        self._pending.save(noted, expected_status="TRIGGERED")

    def _write(self, order: PendingOrder, now: datetime) -> bool:
        """Store ``order`` if its stored status is still PENDING (compare-and-set)."""
        record = PendingOrderRecord.from_pending(order, updated_at=now)
        return self._pending.save(record, expected_status=PENDING.name)


class PendingMonitor:
    """Runs ``service.check`` every ``PENDING_MONITOR_INTERVAL`` seconds (read at each run)
    on one scheduler thread; ``start()`` once, ``stop(timeout)`` within ``timeout`` s.

    A pass that fails as a whole (the database unreachable) is retried after a backoff
    and logged once per failure streak (see ``app/scheduler.py``).
    """

    JOB_ID = "pending_monitor"

    def __init__(self, service: PendingOrderService, config: ConfigStore, clock: Clock) -> None:
        self._service = service
        self._scheduler = periodic(
            self.JOB_ID, lambda: service.check(clock.now()), config, MONITOR_INTERVAL_KEY, clock
        )

    def start(self) -> None:
        self._scheduler.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop; True when the running pass (if any) finished within ``timeout`` seconds."""
        return self._scheduler.stop(timeout)

    def status(self) -> JobStatus:
        return self._scheduler.status()[0]


def periodic(
    job_id: str, run: Callable[[], object], config: ConfigStore, interval_key: str, clock: Clock
) -> Scheduler:
    """A one-job scheduler running ``run()`` every ``interval_key`` seconds of ``clock``."""
    scheduler = Scheduler(clock, workers=1)

    def schedule() -> Every:
        return Every(timedelta(seconds=float(config.get(interval_key))))

    def job(_scheduled: datetime) -> None:
        run()

    scheduler.add(job_id, schedule, job)
    return scheduler


def _add(counts: dict[str, int], name: str) -> None:
    counts[name] = counts.get(name, 0) + 1
