"""SimEngine: one in-memory OKX-like exchange for paper trading, demos, backtests and
the fake OKX server.

The market moves along an injected price path (:mod:`.prices`) as an injected clock
(:mod:`.clock`) says; inside each base candle it walks open -> low -> high -> close for a
green candle and open -> high -> low -> close for a red one (:mod:`.tape`), and every
resting order, stop and liquidation level is met in the order the price reaches it
(:mod:`.matching`), except that a stop-loss still ahead in the candle goes before its
take-profit. Every rule deciding a fill and its price is listed in :mod:`.model`.
Orders (:mod:`.trading`), algo orders (:mod:`.algos`) and the margin model
(:mod:`.ledger`) are documented in their modules; the engine's calls of the exchange
port (market data, account, orders, algo orders) are in :mod:`.api`, this module builds
the engine and moves its market.

Time: every call first brings the market up to ``clock.now()``; ``advance(to)`` and
``step()`` move it further (a backtest may drive it with a ``SteppedClock`` or with
``advance`` alone). Funding settles at 00:00, 08:00 and 16:00 UTC on open positions,
whatever the base candle (a daily path settles three times a day).

Threads: one re-entrant lock guards everything. ``subscribe(callback)`` receives every
changed ``Order``, ``AlgoOrder``, ``ExchangePosition`` (size 0 when closed) and ``Balance``
in the order they happened, called while the lock is held: hand them to a queue and
return. Mark-price moves alone do not produce updates.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from itertools import pairwise

import numpy as np

from qwentrade.adapters.sim import algos, matching
from qwentrade.adapters.sim.api import ExchangeCalls, _locked
from qwentrade.adapters.sim.clock import RealClock
from qwentrade.adapters.sim.market import FUNDING_MS
from qwentrade.adapters.sim.model import Costs, Intrabar, SizeCaps
from qwentrade.adapters.sim.prices import GeneratedPath, PricePath, tick_decimals
from qwentrade.adapters.sim.state import FeeRates, SimState
from qwentrade.adapters.sim.tape import Tape
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS, Instrument
from qwentrade.domain.market import (
    from_ms,
    require_utc,
    to_ms,
)
from qwentrade.domain.numbers import to_decimal
from qwentrade.domain.venue import (
    AlgoOrder,
    Balance,
    ExchangePosition,
    Order,
    PositionMode,
)
from qwentrade.ports.clock import Clock

log = logging.getLogger(__name__)

EngineEvent = Order | AlgoOrder | ExchangePosition | Balance
DEFAULT_HISTORY = timedelta(days=30)


class SimEngine(ExchangeCalls):
    """The simulated exchange. See the module docstring for time, threads and events.

    ``instruments`` default to BTC/ETH/SOL-USDT-SWAP; ``balance`` is the starting USDT;
    ``clock`` defaults to real time and ``price_path`` to a generated path (seed 0)
    starting 30 days before the clock's time. ``default_leverage`` applies until
    ``set_leverage``; ``maintenance_margin_rate`` is the flat rate of the liquidation
    rule (one Decimal, or one per symbol).
    """

    def __init__(
        self,
        instruments: Iterable[Instrument] | Mapping[str, Instrument] | None = None,
        balance: Decimal | int | str = Decimal(10000),
        clock: Clock | None = None,
        price_path: PricePath | None = None,
        fee_rates: FeeRates | None = None,
        position_mode: PositionMode = PositionMode.NET_MODE,
        default_leverage: int = 10,
        maintenance_margin_rate: Decimal | Mapping[str, Decimal] = Decimal("0.004"),
        costs: Costs | Callable[[], Costs] | None = None,
        intrabar: Intrabar | str = Intrabar.STOP_FIRST,
        size_caps: Mapping[str, SizeCaps] | None = None,
    ) -> None:
        if instruments is None:
            instruments = DEFAULT_INSTRUMENTS
        if isinstance(instruments, Mapping):
            instruments = instruments.values()
        table = {i.inst_id: i for i in instruments}
        if not table:
            raise InvalidInput("instruments", "give at least one instrument")
        cash = to_decimal(balance, "balance")
        if cash < 0:
            raise InvalidInput("balance", f"must not be negative, got {cash}")
        if isinstance(default_leverage, bool) or not isinstance(default_leverage, int):
            raise InvalidInput(
                "default_leverage", f"must be a whole number, got {default_leverage!r}"
            )
        if default_leverage < 1:
            raise InvalidInput("default_leverage", f"must be at least 1, got {default_leverage}")
        self._clock: Clock = clock or RealClock()
        now = require_utc(self._clock.now(), "clock.now()")
        if price_path is None:
            price_path = GeneratedPath(tuple(table), seed=0, start=now - DEFAULT_HISTORY)
        missing = [s for s in table if s not in price_path.symbols]
        if missing:
            raise InvalidInput("price_path", f"has no prices for {', '.join(missing)}")
        for symbol in table:
            if now < price_path.first_time(symbol):
                raise InvalidInput(
                    "clock",
                    f"{now.isoformat()} is before the price path of {symbol} begins "
                    f"({price_path.first_time(symbol).isoformat()}); start the clock later",
                )
        rates = self._rates(maintenance_margin_rate, table)
        try:
            intrabar = Intrabar(intrabar)
        except ValueError:
            choices = ", ".join(i.value for i in Intrabar)
            raise InvalidInput("intrabar", f"{intrabar!r} is not one of {choices}") from None
        if costs is None:
            costs = Costs()
        if isinstance(costs, Costs):
            fixed = costs
            costs = lambda: fixed  # noqa: E731
        unknown = sorted(set(size_caps or {}) - set(table))
        if unknown:
            raise InvalidInput("size_caps", f"names unknown symbols: {', '.join(unknown)}")
        self._path = price_path
        self._base_ms = int(price_path.base.duration.total_seconds() * 1000)
        self._tapes = {
            s: Tape(price_path, s, tick_decimals(s, {s: i.tick_sz})) for s, i in table.items()
        }
        self._overrides: dict[str, tuple[int, Decimal]] = {}
        self._lock = threading.RLock()
        self._listeners: list[Callable[[EngineEvent], None]] = []
        self._state = SimState(
            instruments=table,
            cash=cash,
            fees=fee_rates or FeeRates(),
            mode=PositionMode(position_mode),
            default_leverage=default_leverage,
            maintenance_rates=rates,
            price_of=self._price_of,
            now=now,
            costs=costs,
            intrabar=intrabar,
            size_caps=dict(size_caps or {}),
        )

    @staticmethod
    def _rates(rate, table) -> dict[str, Decimal]:
        if isinstance(rate, Mapping):
            rates = {
                s: to_decimal(rate.get(s, Decimal("0.004")), "maintenance_margin_rate")
                for s in table
            }
        else:
            rates = {s: to_decimal(rate, "maintenance_margin_rate") for s in table}
        for symbol, value in rates.items():
            if not 0 <= value < 1:
                raise InvalidInput("maintenance_margin_rate", f"{symbol}: {value} not in [0, 1)")
        return rates

    # -- listeners and time ------------------------------------------------------------

    def subscribe(self, callback: Callable[[EngineEvent], None]) -> Callable[[], None]:
        """Call ``callback`` with every change, in order; returns an unsubscribe function."""
        with self._lock:
            self._listeners.append(callback)

        def unsubscribe() -> None:
            with self._lock:
                if callback in self._listeners:
                    self._listeners.remove(callback)

        return unsubscribe

    def _dispatch(self) -> None:
        events = self._state.drain()
        for event in events:
            for listener in list(self._listeners):
                try:
                    listener(event)
                except Exception:  # a broken listener must not break the exchange
                    log.exception("sim engine listener failed on %s", type(event).__name__)

    @property
    def now(self) -> datetime:
        """The engine's market time (never behind the clock after any call)."""
        with self._lock:
            return self._state.now

    @property
    def clock(self) -> Clock:
        return self._clock

    @property
    def price_path(self) -> PricePath:
        return self._path

    @_locked
    def sync(self) -> datetime:
        """Bring the market up to the clock's time; returns the engine time."""
        return self._state.now

    @_locked
    def advance(self, to: datetime) -> datetime:
        """Move the market to ``to`` (a time in the past is ignored); returns the time."""
        self._advance(require_utc(to, "to"))
        return self._state.now

    @_locked
    def step(self) -> datetime:
        """Move the market to the next base-candle boundary; returns the new time."""
        now_ms = to_ms(self._state.now)
        self._advance(from_ms((now_ms // self._base_ms + 1) * self._base_ms))
        return self._state.now

    def run(self, stop_event: threading.Event, poll_seconds: float = 0.25) -> None:
        """Keep the market in step with the clock until ``stop_event`` is set.

        For live/accelerated clocks, so stops fire (and are pushed) without waiting for
        the next call; polls every ``poll_seconds`` of REAL time.
        """
        while not stop_event.is_set():
            self.sync()
            stop_event.wait(poll_seconds)

    def _sync(self) -> None:
        now = self._clock.now()
        if now > self._state.now:
            self._advance(now)

    def _advance(self, to: datetime) -> None:
        state = self._state
        cursor, end = to_ms(state.now), to_ms(to)
        while cursor < end:
            active = state.active_symbols()
            if not active:
                break
            # stop at every base-candle boundary and every funding settlement (00/08/16
            # UTC), so a path of daily candles still settles three times a day
            boundary = min(
                end,
                (cursor // self._base_ms + 1) * self._base_ms,
                (cursor // FUNDING_MS + 1) * FUNDING_MS,
            )
            pieces = []
            for rank, symbol in enumerate(active):
                segments = list(self._tapes[symbol].segments(cursor, boundary))
                if len(active) == 1 and segments and matching.quiet(state, symbol, segments):
                    # nothing can fire: walking the segments would only move the price
                    self._set_price(symbol, segments[-1].end)
                    continue
                for n, segment in enumerate(segments):
                    pieces.append((segment.end_ms, rank, n, symbol, segment))
            pieces.sort(key=lambda piece: piece[:3])
            for _, _, _, symbol, segment in pieces:
                matching.run_segment(state, symbol, segment, self._set_price)
            state.now = max(state.now, from_ms(boundary))
            if boundary % FUNDING_MS == 0:
                self._settle_funding(boundary)
            cursor = boundary
        if to > state.now:
            state.now = to

    @_locked
    def coast(self, times: Sequence[datetime]) -> list[Balance]:
        """Move the market to each of ``times`` in turn while the walk there can execute
        nothing; the balance at each time reached, stopping before the first time whose
        walk might fill an order, fire an algo or liquidate (move there with ``advance``).

        For a backtest stepping whole base candles: ``times`` rising base-candle
        boundaries after now (itself a boundary). It coasts only while one symbol holds
        everything live (its positions and live algos, no resting order): the candles of
        each stretch between funding settlements are checked at once (their low/high and
        the next open, one tick of margin for the rounding to the tick) against the live
        triggers and the liquidation levels, which nothing moves in between; funding
        settles at 00/08/16 UTC as ``advance`` settles it, then the levels are read again.
        A candle found close to a level is left to the exact walk. Events (funding) go to
        subscribers as usual.
        """
        state, step = self._state, self._base_ms
        now_ms = to_ms(state.now)
        wanted = [to_ms(require_utc(t, "times")) for t in times]
        if any(b <= a or b % step for a, b in pairwise([now_ms, *wanted])):
            raise InvalidInput("times", "must be rising base-candle boundaries after now")
        active = state.active_symbols()
        if len(active) != 1 or now_ms % step or not wanted:
            return []
        symbol = active[0]
        if state.open_orders[symbol] or any(key[0] != symbol for key in state.positions):
            return []
        tape = self._tapes[symbol]
        series = tape.series(wanted[-1] + step)
        tick = float(state.instruments[symbol].tick_sz)
        out: list[Balance] = []
        k = 0
        while k < len(wanted):
            down, up = -np.inf, np.inf  # fires at or below ``down`` / at or above ``up``
            for algo in state.iter_live_algos(symbol):
                for _, level, direction in algos.legs(algo):
                    if direction < 0:
                        down = max(down, float(level))
                    else:
                        up = min(up, float(level))
            for level, direction, _ in matching.liquidation_levels(state, symbol):
                if direction < 0:
                    down = max(down, float(level))
                else:
                    up = min(up, float(level))
            # this stretch: up to and including the next funding settlement
            last = k
            while last + 1 < len(wanted) and wanted[last] % FUNDING_MS:
                last += 1
            ends = np.asarray(wanted[k : last + 1], dtype=np.int64)
            starts = np.concatenate(([to_ms(state.now)], ends[:-1]))
            first = np.searchsorted(series.ts, starts)
            # every window must be one whole candle followed by the next one's open
            fits = (first + 1 < len(series.ts)) & (ends - starts == step)
            rows = np.minimum(first, len(series.ts) - 2)
            fits &= (series.ts[rows] == starts) & (series.ts[rows + 1] == ends)
            low = np.minimum(series.low[rows], series.open[rows + 1])
            high = np.maximum(series.high[rows], series.open[rows + 1])
            for prices in (series.open[rows], series.close[rows]):  # data outside the range
                low, high = np.minimum(low, prices), np.maximum(high, prices)
            calm = fits & (low > down + tick) & (high < up - tick)
            count = int(np.argmin(calm)) if not calm.all() else calm.size
            for end_ms in wanted[k : k + count]:
                state.now = from_ms(end_ms)
                if end_ms % FUNDING_MS == 0:
                    self._settle_funding(end_ms)
                out.append(state.balance())
            if count < calm.size:
                break
            k = last + 1
        return out

    def _settle_funding(self, at_ms: int) -> None:
        when = from_ms(at_ms)
        held = {key[0] for key in self._state.positions}
        for symbol in [s for s in self._state.instruments if s in held]:  # a stable order
            rate = self._path.funding_rate(symbol, when)
            matching.apply_funding(self._state, symbol, rate, self._price_of(symbol))

    def _set_price(self, symbol: str, price: Decimal) -> None:
        self._overrides[symbol] = (to_ms(self._state.now), price)

    def _price_of(self, symbol: str) -> Decimal:
        now_ms = to_ms(self._state.now)
        override = self._overrides.get(symbol)
        if override is not None and override[0] == now_ms:
            return override[1]
        return self._tapes[symbol].price(now_ms)
