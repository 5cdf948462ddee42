"""SignalPolicy: trade on signals. One code path for live, paper, sim and backtests.

Rules (every number is a config key, read when a signal is judged):

1. On. ``POLICY_ENABLED`` is ``auto`` (on in sim and paper, off in live), ``true`` or
   ``false``. Trading on signals in live is one explicit change, ``qwentrade config set
   POLICY_ENABLED true``; each change of the effective state is logged (a WARNING when it
   turns on in live). Nothing else depends on the mode.
2. Which signals. An ACTIVE signal whose ``expire_at`` is after now, re-read from the
   repository (another pass may have acted on it). ``on_signal`` is called by the sync
   engine for each new signal; ``run`` passes over the active ones (newest per symbol),
   catching any the hook missed (a restart, a policy that was off).
3. Size. ``POLICY_MARGIN_PER_TRADE`` USDT of margin times the detector's position
   multiplier (``details["position_multiplier"]``: 2 when RSI < 50 for LONG, > 50 for
   SHORT), at ``POLICY_LEVERAGE`` capped to the instrument's maximum.
4. Protection. ``POLICY_STOP_MODE`` ``atr``: stop-loss ``POLICY_SL_ATR_MULTIPLE`` and
   take-profit ``POLICY_TP_ATR_MULTIPLE`` times the ATR(14) of the newest stored 15m
   candle away from the entry; ``percent``: ``POLICY_SL_PERCENT`` and ``POLICY_TP_PERCENT``
   of the entry price. A take-profit of 0 places none; a stop-loss is always placed (a
   signal with no ATR stored is not traded: never a position without its stop).
5. How. At market by default; with ``POLICY_USE_PENDING`` a pending trigger order at a
   pullback of ``POLICY_PENDING_OFFSET_PERCENT`` from the price (below it for LONG),
   expiring with ``PENDING_ORDER_EXPIRE_HOURS`` but never after the signal itself.
6. Exactly once. The open uses the key ``signal:<id>`` (the pending order the id
   ``signal-<id>``), then the signal is set EXECUTED by compare-and-set from ACTIVE, and
   the symbol's older ACTIVE signals CANCELLED (superseded). A crash between the two
   writes is safe: the next pass repeats the open with the same key, which returns the
   first call's order instead of sending another.
7. Skips. A symbol that already has a position is skipped (one position per symbol; the
   policy never reverses one): its signal stays ACTIVE and may be traded later in its
   validity, as the original's 4 h signal lifetime says. A transient failure (exchange
   unreachable) leaves the signal ACTIVE for the next pass; a refusal for good (too
   little margin, a rejected order) sets it CANCELLED, logged with the reason.
"""

from __future__ import annotations

import logging
import math
import threading
from datetime import datetime
from decimal import Decimal
from typing import Any, Protocol

import attrs

from qwentrade.app.pending import TRANSIENT_ERRORS, PendingOrderService, PositionOpener, periodic
from qwentrade.app.scheduler import Scheduler
from qwentrade.domain.errors import DomainError, InvalidInput, OrderNotFound, PositionExists
from qwentrade.domain.indicators.params import IndicatorParams
from qwentrade.domain.instruments import Instrument
from qwentrade.domain.market import Timeframe, require_utc
from qwentrade.domain.plans import Side
from qwentrade.domain.records import SignalRecord
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.repositories import KlineRepository, SignalRepository

log = logging.getLogger(__name__)

MODES = ("sim", "paper", "live")
ON_BY_DEFAULT = frozenset({"sim", "paper"})
ATR_COLUMN = f"atr_{IndicatorParams().atr_period}"
HUNDRED = Decimal(100)


class Trading(PositionOpener, Protocol):
    """What the policy needs of ``TradingService``: open, and the open positions."""

    def current_positions(self, symbol: str | None = None) -> list[Any]:
        """The open positions (of ``symbol``, or all)."""
        ...


class NoStop(DomainError):
    """No stop-loss distance can be worked out (no ATR stored yet): the signal waits."""


@attrs.frozen
class Protection:
    """Where a trade would go in: entry (the price, or the pending trigger) and its stops."""

    entry: Decimal
    stop_loss: Decimal
    take_profit: Decimal | None


class SignalPolicy:
    """Opens a position (or a pending order) for each new active signal; see the rules.

    ``mode`` (sim, paper or live) only chooses what ``POLICY_ENABLED=auto`` means.
    """

    JOB_ID = "signal_policy"

    def __init__(
        self,
        trading: Trading,
        pending: PendingOrderService,
        signals: SignalRepository,
        klines: KlineRepository,
        config: ConfigStore,
        clock: Clock,
        mode: str,
    ) -> None:
        if mode not in MODES:
            raise InvalidInput("mode", f"must be one of {', '.join(MODES)}, got {mode!r}")
        self._trading = trading
        self._pending = pending
        self._signals = signals
        self._klines = klines
        self._config = config
        self._clock = clock
        self._mode = mode
        self._lock = threading.Lock()  # one decision at a time in this process
        self._was_enabled: bool | None = None
        self._runner: Scheduler | None = None

    @property
    def mode(self) -> str:
        return self._mode

    def enabled(self) -> bool:
        """Whether signals are traded now (``POLICY_ENABLED``; ``auto`` by mode)."""
        setting = str(self._config.get("POLICY_ENABLED"))
        on = self._mode in ON_BY_DEFAULT if setting == "auto" else setting == "true"
        if on != self._was_enabled:
            self._log_state(on, setting)
            self._was_enabled = on
        return on

    def on_signal(self, signal: SignalRecord) -> str | None:
        """Act on one stored signal: returns the entry's clOrdId (or the pending order's id),
        or None when it is not traded (policy off, not ACTIVE, expired, symbol held)."""
        if not isinstance(signal, SignalRecord) or signal.id is None:
            raise InvalidInput(
                "signal", f"must be a stored SignalRecord with an id, got {signal!r}"
            )
        if not self.enabled():
            return None
        with self._lock:
            return self._consider(signal.id, self._clock.now())

    def run(self, now: datetime | None = None) -> int:
        """One pass over the ACTIVE, unexpired signals (the newest of each symbol); returns
        how many were traded."""
        given = now is not None
        now = require_utc(now, "now") if now is not None else self._clock.now()
        if not self.enabled():
            return 0
        acted = 0
        newest: dict[str, SignalRecord] = {}
        for signal in self._signals.active(now):  # newest first
            newest.setdefault(signal.symbol, signal)
        with self._lock:
            for signal in newest.values():
                assert signal.id is not None  # stored signals have ids
                # each judged at the clock's now (the lock may have been waited for)
                at = now if given else self._clock.now()
                try:
                    if self._consider(signal.id, at) is not None:
                        acted += 1
                except DomainError as e:  # one symbol's trouble never stops the others
                    log.warning("signal policy: signal %s (%s): %s", signal.id, signal.symbol, e)
        return acted

    # -- background pass -----------------------------------------------------------------

    def start(self) -> None:
        """Run :meth:`run` every ``POLICY_INTERVAL`` seconds on a scheduler thread (once)."""
        if self._runner is not None:
            raise InvalidInput("start", "the signal policy was already started")
        self._runner = periodic(
            self.JOB_ID, lambda: self.run(), self._config, "POLICY_INTERVAL", self._clock
        )
        self._runner.start()

    def stop(self, timeout: float = 5.0) -> bool:
        """Stop the background pass; True when it finished within ``timeout`` seconds."""
        return True if self._runner is None else self._runner.stop(timeout)

    # -- deciding ------------------------------------------------------------------------

    def _consider(self, signal_id: int, now: datetime) -> str | None:
        signal = self._signals.get(signal_id)
        if signal is None or signal.status != "ACTIVE":
            return None
        if signal.expire_at <= now:
            log.info(
                "signal policy: signal %s expired at %s: not traded",
                signal_id,
                signal.expire_at.isoformat(),
            )
            return None
        instrument = self._pending.instrument(signal.symbol)
        side = Side.parse(signal.signal_type)
        multiplier = _multiplier(signal.details)
        margin = Decimal(repr(float(self._config.get("POLICY_MARGIN_PER_TRADE")))) * multiplier
        leverage = min(int(self._config.get("POLICY_LEVERAGE")), instrument.max_lever)
        use_pending = bool(self._config.get("POLICY_USE_PENDING"))
        price = self._pending.last_price(signal.symbol)
        try:
            entry = self._entry(instrument, side, price, use_pending)
            protection = self._protection(instrument, side, entry)
        except NoStop as e:
            log.warning("signal policy: signal %s waits: %s", signal_id, e)
            return None
        try:
            if use_pending:
                result = self._place_pending(signal, side, margin, leverage, protection, now)
            else:
                result = self._trading.open_position(
                    signal.symbol,
                    side.name,
                    margin,
                    stop_loss_trigger=protection.stop_loss,
                    take_profit_trigger=protection.take_profit,
                    leverage=leverage,
                    signal_id=signal_id,
                    key=f"signal:{signal_id}",
                )
        except PositionExists:
            log.info(
                "signal policy: %s already has a position; signal %s waits",
                signal.symbol,
                signal_id,
            )
            return None
        except TRANSIENT_ERRORS as e:
            log.warning("signal policy: signal %s not traded yet, retried: %s", signal_id, e)
            return None
        except DomainError as e:
            self._signals.set_status(signal_id, "CANCELLED", expected="ACTIVE")
            log.warning("signal policy: signal %s refused, cancelled: %s", signal_id, e)
            return None
        self._executed(signal, now)
        log.info(
            "signal policy: signal %s %s %s score %s -> %s %s USDT x%d (multiplier %d), "
            "stop-loss %s, take-profit %s",
            signal_id,
            signal.signal_type,
            signal.symbol,
            signal.score,
            "pending order" if use_pending else "order",
            margin,
            leverage,
            multiplier,
            protection.stop_loss,
            protection.take_profit,
        )
        return result

    def _place_pending(
        self,
        signal: SignalRecord,
        side: Side,
        margin: Decimal,
        leverage: int,
        protection: Protection,
        now: datetime,
    ) -> str:
        order_id = f"signal-{signal.id}"
        try:  # placed before a crash that left the signal ACTIVE: that order stands
            return self._pending.get(order_id).id
        except OrderNotFound:
            pass
        if self._trading.current_positions(signal.symbol):
            raise PositionExists(signal.symbol, f"{signal.symbol} already has a position")
        left = (signal.expire_at - now).total_seconds() / 3600
        hours = min(float(self._config.get("PENDING_ORDER_EXPIRE_HOURS")), left)
        record = self._pending.create(
            signal.symbol,
            side,
            margin,
            protection.entry,
            stop_loss_trigger=protection.stop_loss,
            take_profit_trigger=protection.take_profit,
            leverage=leverage,
            signal_id=signal.id,
            expire_hours=hours,
            order_id=order_id,
        )
        return record.id

    def _executed(self, signal: SignalRecord, now: datetime) -> None:
        assert signal.id is not None
        # when the expiry sweep passed while the order was on its way (the signal was judged
        # before its expire_at), it traded all the same: EXECUTED, not EXPIRED
        if not self._signals.set_status(
            signal.id, "EXECUTED", expected="ACTIVE"
        ) and self._signals.set_status(signal.id, "EXECUTED", expected="EXPIRED"):
            log.info("signal policy: signal %s expired while it was being traded", signal.id)
        for older in self._signals.active(now, symbol=signal.symbol):
            if older.id != signal.id and older.created_at <= signal.created_at:
                assert older.id is not None
                self._signals.set_status(older.id, "CANCELLED", expected="ACTIVE")

    def _entry(
        self, instrument: Instrument, side: Side, price: Decimal, use_pending: bool
    ) -> Decimal:
        if not use_pending:
            return price
        offset = _percent(self._config.get("POLICY_PENDING_OFFSET_PERCENT"))
        level = price * (1 - offset) if side is Side.LONG else price * (1 + offset)
        return _beyond(instrument, level, price, below=side is Side.LONG)

    def _protection(self, instrument: Instrument, side: Side, entry: Decimal) -> Protection:
        """Stop-loss and take-profit around ``entry`` (rule 4), on the right sides of it."""
        if self._config.get("POLICY_STOP_MODE") == "atr":
            atr = self._atr(instrument.inst_id)
            stop = Decimal(repr(float(self._config.get("POLICY_SL_ATR_MULTIPLE")))) * atr
            target = Decimal(repr(float(self._config.get("POLICY_TP_ATR_MULTIPLE")))) * atr
        else:
            stop = entry * _percent(self._config.get("POLICY_SL_PERCENT"))
            target = entry * _percent(self._config.get("POLICY_TP_PERCENT"))
        long = side is Side.LONG
        stop_loss = _beyond(instrument, entry - stop if long else entry + stop, entry, long)
        if stop_loss <= 0:
            raise NoStop(
                f"a stop-loss {stop} away from {entry} is below zero: lower "
                "POLICY_SL_ATR_MULTIPLE or POLICY_SL_PERCENT"
            )
        take_profit = None
        if target > 0:
            level = entry + target if long else entry - target
            if level > 0:
                take_profit = _beyond(instrument, level, entry, not long)
        return Protection(entry, stop_loss, take_profit)

    def _atr(self, symbol: str) -> Decimal:
        frame = self._klines.latest(symbol, Timeframe.M15, 1)
        if frame.height == 0 or ATR_COLUMN not in frame.columns:
            raise NoStop(f"no 15m candle with {ATR_COLUMN} is stored for {symbol}")
        value = frame[ATR_COLUMN][-1]
        if value is None or not math.isfinite(value) or value <= 0:
            raise NoStop(f"the newest 15m candle of {symbol} has no {ATR_COLUMN} yet")
        return Decimal(repr(float(value)))

    def _log_state(self, on: bool, setting: str) -> None:
        state = "ON" if on else "OFF"
        if on and self._mode == "live":
            log.warning(
                "signal policy is ON in live mode (POLICY_ENABLED=%s): signals open real "
                "positions on OKX",
                setting,
            )
        else:
            log.info(
                "signal policy is %s in %s mode (POLICY_ENABLED=%s)", state, self._mode, setting
            )


def _multiplier(details: dict[str, Any]) -> int:
    """The detector's position multiplier (1 or 2); 1 when the details lack it."""
    value = details.get("position_multiplier", 1)
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 1:
        return 1
    return int(value)


def _percent(value: object) -> Decimal:
    return Decimal(repr(float(value))) / HUNDRED  # type: ignore[arg-type]


def _beyond(instrument: Instrument, level: Decimal, reference: Decimal, below: bool) -> Decimal:
    """``level`` rounded to the tick, at least one tick below (or above) ``reference``."""
    rounded = instrument.round_price(level)
    tick = instrument.tick_sz
    if below and rounded >= reference:
        rounded = instrument.round_price(reference - tick, "down")
    if not below and rounded <= reference:
        rounded = instrument.round_price(reference + tick, "up")
    return rounded
