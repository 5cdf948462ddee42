"""PendingOrderService and PendingMonitor: trigger orders that open a position when price
crosses a level, or expire (the original's PendingOrderManager and PendingOrderMonitor).
This module creates, reads, lists and cancels them; the monitor pass (``check``, rules
4-6) and ``PendingMonitor`` are in app/pending_monitor.py.

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
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

from qwentrade.app.pending_monitor import (
    FAILED,
    MAX_EXPIRE_HOURS,
    MONITOR_INTERVAL_KEY,
    NOT_OPENED,
    OPENED,
    RESUME_AFTER,
    RESUME_PAGE,
    TRANSIENT_ERRORS,
    CheckCounts,
    PendingChecks,
    PendingMonitor,
    PositionOpener,
    periodic,
)
from qwentrade.domain.errors import (
    ExchangeUnavailable,
    InvalidInput,
    InvalidTransition,
    OrderNotFound,
)
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import Timeframe
from qwentrade.domain.numbers import to_decimal
from qwentrade.domain.pending import PENDING, PendingOrder, supersede
from qwentrade.domain.plans import Side
from qwentrade.domain.records import PENDING_STATES, PendingOrderRecord
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.exchange import Exchange
from qwentrade.ports.repositories import PendingRepository

log = logging.getLogger(__name__)

# the public names, those moved to app/pending_monitor.py importable from here as before
__all__ = [
    "EXPIRE_HOURS_KEY",
    "FAILED",
    "INSTRUMENTS_RELOAD_SECONDS",
    "LIST_LIMIT_MAX",
    "MAX_EXPIRE_HOURS",
    "MONITOR_INTERVAL_KEY",
    "NOT_OPENED",
    "OPENED",
    "RESUME_AFTER",
    "RESUME_PAGE",
    "TRANSIENT_ERRORS",
    "CheckCounts",
    "PendingMonitor",
    "PendingOrderService",
    "PositionOpener",
    "periodic",
]

EXPIRE_HOURS_KEY = "PENDING_ORDER_EXPIRE_HOURS"
LIST_LIMIT_MAX = 1000
INSTRUMENTS_RELOAD_SECONDS = 60.0


class PendingOrderService(PendingChecks):
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


# -- argument checks ------------------------------------------------------------------------


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
