"""PendingOrderService and PendingMonitor: trigger orders that open a position when price
crosses a level, or expire (the original's PendingOrderManager and PendingOrderMonitor).

Rules:

1. ``create`` checks every argument before anything is written (``InvalidInput`` naming
   the field). It stores the new order PENDING, then cancels the symbol's older PENDING
   orders ("superseded by <id>"): one pending order per symbol. "Older" is by
   ``(created_at, id)``, so two creates racing for one symbol leave exactly the newest.
2. ``amount`` is the margin in USDT, the unit ``TradingService.open_position`` takes and
   the original's ``create_pending_order(amount)``: the position opened holds ``amount x
   leverage / (price x ct_val)`` contracts. ``create`` refuses an amount that buys less
   than the instrument's minimum size at the trigger price.
3. ``cancel`` only marks a PENDING order CANCELLED: nothing is on the exchange before the
   trigger, so nothing is sent.
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

import itertools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

import attrs

from qwentrade.app.scheduler import JobStatus, Scheduler
from qwentrade.domain.errors import (
    AuthFailed,
    DomainError,
    ExchangeUnavailable,
    InvalidInput,
    InvalidTransition,
    OrderNotFound,
    OutcomeUnknown,
    RateLimited,
    SymbolLeased,
)
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import Timeframe, require_utc
from qwentrade.domain.numbers import to_decimal
from qwentrade.domain.pending import PENDING, PendingOrder, supersede
from qwentrade.domain.plans import Side
from qwentrade.domain.records import PENDING_STATES, PendingOrderRecord
from qwentrade.domain.schedule import Every
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.exchange import Exchange
from qwentrade.ports.repositories import PendingRepository

log = logging.getLogger(__name__)

EXPIRE_HOURS_KEY = "PENDING_ORDER_EXPIRE_HOURS"
MONITOR_INTERVAL_KEY = "PENDING_MONITOR_INTERVAL"
MAX_EXPIRE_HOURS = 720.0  # 30 days, as the config key allows
# A TRIGGERED order without an outcome is resumed only this long after its trigger, so a
# second monitor never re-calls an open that the first is still making.
RESUME_AFTER = timedelta(seconds=30)
# How many TRIGGERED orders (newest first) one pass looks at for interrupted opens: they
# are all younger than MAX_EXPIRE_HOURS, the longest an order can wait to be resumed.
RESUME_PAGE = 200
LIST_LIMIT_MAX = 1000
INSTRUMENTS_RELOAD_SECONDS = 60.0
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


class PendingOrderService:
    """Create, read, list and cancel pending trigger orders; ``check`` runs one monitor pass.

    ``exchange`` gives the instruments and the last prices; ``trading`` opens the
    positions; ``config`` supplies ``PENDING_ORDER_EXPIRE_HOURS`` at each create.
    """

    def __init__(
        self,
        pending: PendingRepository,
        trading: PositionOpener,
        exchange: Exchange,
        config: ConfigStore,
        clock: Clock,
    ) -> None:
        self._pending = pending
        self._trading = trading
        self._exchange = exchange
        self._config = config
        self._clock = clock
        self._instruments: dict[str, Instrument] = {}
        self._instruments_retry = 0.0  # time.monotonic() when an unknown name may reload
        self._checking = threading.Lock()  # one monitor pass at a time in this process
        self._sequence = itertools.count()

    # -- reference data ------------------------------------------------------------------

    def instrument(self, symbol: object) -> Instrument:
        """The instrument ``symbol`` names; ``InvalidInput("symbol")`` when the venue lists
        no such swap."""
        if not isinstance(symbol, str) or not symbol.strip():
            raise InvalidInput(
                "symbol", f"must be an instrument id like BTC-USDT-SWAP, got {symbol!r}"
            )
        name = symbol.strip().upper()
        if name not in self._instruments and time.monotonic() >= self._instruments_retry:
            # a symbol listed since the last look; at most one reload a minute, so unknown
            # names (a typo, or a caller probing) never flood the venue
            self._instruments = {i.inst_id: i for i in self._exchange.instruments()}
            self._instruments_retry = time.monotonic() + INSTRUMENTS_RELOAD_SECONDS
        found = self._instruments.get(name)
        if found is None:
            known = ", ".join(sorted(self._instruments)[:5])
            raise InvalidInput("symbol", f"{name} is not a swap the exchange lists (e.g. {known})")
        return found

    def last_price(self, symbol: str) -> Decimal:
        """The last traded price of ``symbol``: the close of its newest (forming) 15m candle."""
        candles = self._exchange.candles(symbol, Timeframe.M15, limit=1)
        if not candles:
            raise ExchangeUnavailable(f"the exchange returned no price for {symbol}")
        return to_decimal(candles[-1].close, "price")

    # -- the use cases ------------------------------------------------------------------

    def create(
        self,
        symbol: str,
        side: object,
        amount: object,
        trigger_price: object,
        stop_loss_trigger: object | None = None,
        take_profit_trigger: object | None = None,
        leverage: int | None = None,
        signal_id: int | None = None,
        expire_hours: float | None = None,
        *,
        order_id: str | None = None,
    ) -> PendingOrderRecord:
        """Store a PENDING order that opens ``side`` with ``amount`` USDT of margin when the
        price crosses ``trigger_price``; returns it. The crossing direction is taken from
        the price now (a level above it triggers on the way up). ``stop_loss_trigger``
        must be on the losing side of the trigger price (below it for LONG),
        ``take_profit_trigger`` on the winning side. ``leverage`` defaults to the
        ``TRADING_DEFAULT_LEVERAGE`` key; ``expire_hours`` to ``PENDING_ORDER_EXPIRE_HOURS`` (1 h).

        The symbol's older PENDING order, if any, is cancelled (superseded). With
        ``order_id`` (a caller's idempotency key, e.g. the signal policy's) an existing
        order of that id is returned as it is and nothing is written.
        """
        if order_id is not None:
            order_id = _order_id(order_id)
            existing = self._pending.get(order_id)
            if existing is not None:
                return existing
        instrument = self.instrument(symbol)
        side_ = _side(side)
        margin = _margin(amount)
        lever = instrument.check_leverage(_leverage(leverage, self._config))
        if signal_id is not None and (
            isinstance(signal_id, bool) or not isinstance(signal_id, int)
        ):
            raise InvalidInput("signal_id", f"must be a whole number or None, got {signal_id!r}")
        hours = _expire_hours(expire_hours, self._config)
        now = self._clock.now()
        order, _ = PendingOrder.create(
            order_id or self._new_id(now),
            instrument,
            side_,
            trigger_price,
            margin,  # USDT of margin: the domain checks it buys the minimum size
            lever,
            now,
            current_price=self.last_price(instrument.inst_id),
            ttl=timedelta(hours=hours),
            stop_loss_trigger=stop_loss_trigger,
            take_profit_trigger=take_profit_trigger,
            signal_id=signal_id,
        )
        record = PendingOrderRecord.from_pending(order, updated_at=now)
        self._pending.save(record)
        self._supersede(record, now)
        log.info(
            "pending order %s: %s %s %s USDT x%d when price crosses %s %s (expires %s)",
            order.id,
            order.side.name,
            order.symbol,
            margin,
            lever,
            order.crossing.name.lower(),
            order.trigger_price,
            order.expire_at.isoformat(),
        )
        return record

    def _new_id(self, now: datetime) -> str:
        """32 hex digits that sort in creation order: milliseconds, a counter, randomness.

        Supersede and the monitor keep the newest PENDING order of a symbol by
        ``(created_at, id)``, so two orders created at the same instant must still sort in
        the order they were made."""
        millis = int(now.timestamp() * 1000)
        return f"{millis:012x}{next(self._sequence) % 0x10000:04x}{uuid.uuid4().hex[:16]}"

    def get(self, order_id: str) -> PendingOrderRecord:
        """The pending order ``order_id``; ``OrderNotFound`` when there is none."""
        order_id = _order_id(order_id)
        found = self._pending.get(order_id)
        if found is None:
            raise OrderNotFound(f"no pending order {order_id}: list them with their status")
        return found

    def list(
        self,
        status: str | None = None,
        symbol: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[PendingOrderRecord]:
        """Pending orders, newest first; ``status`` is PENDING, TRIGGERED, CANCELLED or
        EXPIRED (any case), ``limit`` 1..1000."""
        if status is not None:
            if not isinstance(status, str) or status.strip().upper() not in PENDING_STATES:
                raise InvalidInput(
                    "status", f"{status!r} is not one of {', '.join(PENDING_STATES)}"
                )
            status = status.strip().upper()
        if symbol is not None:
            if not isinstance(symbol, str) or not symbol.strip():
                raise InvalidInput("symbol", f"must be an instrument id, got {symbol!r}")
            symbol = symbol.strip().upper()
        if (
            isinstance(limit, bool)
            or not isinstance(limit, int)
            or not 1 <= limit <= LIST_LIMIT_MAX
        ):
            raise InvalidInput(
                "limit", f"must be a whole number in 1..{LIST_LIMIT_MAX}, got {limit!r}"
            )
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            raise InvalidInput("offset", f"must be a whole number >= 0, got {offset!r}")
        return self._pending.find(symbol=symbol, status=status, limit=limit, offset=offset)

    def cancel(self, order_id: str, reason: str = "cancelled") -> PendingOrderRecord:
        """Mark a PENDING order CANCELLED and return it (nothing is on the exchange yet, so
        nothing is sent). ``InvalidTransition`` when it is no longer PENDING."""
        stored = self.get(order_id)
        now = self._clock.now()
        done, _ = stored.to_pending().apply("cancel", now, reason=reason)
        record = PendingOrderRecord.from_pending(done, updated_at=now)
        if not self._pending.save(record, expected_status=PENDING.name):
            current = self.get(order_id)
            raise InvalidTransition(
                f"cannot cancel pending order {order_id}: it became {current.status} meanwhile"
            )
        log.info("pending order %s cancelled", order_id)
        return record

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

    def _supersede(self, new: PendingOrderRecord, now: datetime) -> None:
        older = [
            o.to_pending()
            for o in self._pending.open(new.symbol)
            if (o.created_at, o.id) < (new.created_at, new.id)
        ]
        cancelled, _ = supersede(older, new.to_pending())
        for order in cancelled:
            if self._write(order, now):
                log.info("pending order %s superseded by %s", order.id, new.id)


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


# -- argument checks ------------------------------------------------------------------------


def _add(counts: dict[str, int], name: str) -> None:
    counts[name] = counts.get(name, 0) + 1


def _order_id(order_id: object) -> str:
    if not isinstance(order_id, str) or not order_id.strip() or len(order_id) > 64:
        raise InvalidInput(
            "order_id", f"must be a pending order id (1-64 characters), got {order_id!r}"
        )
    return order_id.strip()


def _side(side: object) -> Side:
    if isinstance(side, Side):
        return side
    if not isinstance(side, str):
        raise InvalidInput("side", f"must be LONG or SHORT, got {side!r}")
    return Side.parse(side)


def _margin(amount: object) -> Decimal:
    margin = to_decimal(amount, "amount")
    if margin <= 0:
        raise InvalidInput("amount", f"must be a positive margin in USDT, got {margin}")
    return margin


def _leverage(leverage: object, config: ConfigStore) -> int:
    if leverage is None:
        return int(config.get("TRADING_DEFAULT_LEVERAGE"))
    if isinstance(leverage, bool) or not isinstance(leverage, int):
        raise InvalidInput("leverage", f"must be a whole number, got {leverage!r}")
    return leverage


def _expire_hours(expire_hours: object, config: ConfigStore) -> float:
    if expire_hours is None:
        return float(config.get(EXPIRE_HOURS_KEY))
    hours = to_decimal(expire_hours, "expire_hours")
    if not 0 < hours <= Decimal(repr(MAX_EXPIRE_HOURS)):
        raise InvalidInput(
            "expire_hours", f"must be more than 0 and at most {MAX_EXPIRE_HOURS:g}, got {hours}"
        )
    return float(hours)
