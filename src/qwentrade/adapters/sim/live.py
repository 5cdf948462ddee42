"""Paper trading's price path: a venue's CLOSED candles, taken as they close.

The simulated exchange walks each base candle's whole OHLC (:mod:`.tape`): anywhere inside
a candle it already knows the candle's high, low and close. Replaying history that is
harmless; against a live market it would be trading on the future. So paper mode feeds
the engine like this:

1. The base candles are the venue's candles of one bar (:data:`MINUTE` on OKX;
   :data:`QUARTER` where 1m is not served, as by the fake OKX server), and only CLOSED
   ones: ``confirmed`` (OKX ``confirm == 1``) AND closing no later than the path's clock
   (real time). A candle still forming is dropped on arrival and never returned.
2. The engine runs on a :class:`LaggedClock`, one bar plus :data:`CLOSE_GRACE` behind
   real time (:func:`engine_lag`). At engine time ``t`` it walks the candle holding
   ``t``, which closed at ``floor(t) + bar <= t + bar = real now - grace``: every price it
   walks, fills at or triggers on is from a closed candle. The price of that: paper fills
   are at real prices about one bar (a minute on OKX) old, never a future one.
3. Candles come through an injected ``fetch(symbol, since)`` (the composition root hands
   in one over OKX's public endpoints; this adapter never imports the OKX one), are
   fetched incrementally from the last one held and cached: at most ONE request per
   symbol per newly closed bar, however often the engine reads. An answer that fails or
   lacks the newest bar is not retried before the next bar closes.
4. When no newer candle has arrived (the venue is unreachable or late), the price holds at
   the last close held, as the tape holds a path after its last candle; candles that
   arrive later than the engine walked through them are stored but not replayed. No
   candle is ever invented. Before the first candle has arrived a price read raises
   ``ExchangeUnavailable``.
5. Funding: the venue's current rate for the coming settlement (injected
   ``funding(symbol)``), read again at most every :data:`FUNDING_REFRESH` per symbol
   alongside a candle fetch; a settlement uses the last rate read for it, else
   :data:`~.prices.DEFAULT_FUNDING_RATE`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import attrs
import numpy as np

from qwentrade.adapters.sim.prices import DEFAULT_FUNDING_RATE, Series
from qwentrade.domain.errors import ExchangeUnavailable, InvalidInput
from qwentrade.domain.market import Candle, FundingRate, from_ms, require_utc, to_ms
from qwentrade.ports.clock import Clock

log = logging.getLogger(__name__)

#: time allowed after a bar's close for the venue to publish it as confirmed
CLOSE_GRACE = timedelta(seconds=5)
#: how often the coming settlement's funding rate is read again, per symbol
FUNDING_REFRESH = timedelta(minutes=10)


@attrs.frozen
class Bar:
    """A candle bar of the venue: its name there (OKX ``bar``) and its length.

    It stands in for ``Timeframe`` as a price path's ``base`` (the engine and the tape use
    ``duration``; messages use ``value``): the stored timeframes start at 15m, paper
    trading wants the venue's 1m.
    """

    value: str
    duration: timedelta

    @property
    def label(self) -> str:
        return self.value.lower()

    @property
    def milliseconds(self) -> int:
        return self.duration // timedelta(milliseconds=1)

    def floor(self, when: datetime) -> datetime:
        """Open time of the bar holding ``when`` (UTC-aligned, as OKX aligns 1m/15m)."""
        ms = to_ms(when)
        return from_ms(ms - ms % self.milliseconds)


MINUTE = Bar("1m", timedelta(minutes=1))
QUARTER = Bar("15m", timedelta(minutes=15))

#: (symbol, since) -> the bar's candles opening at or after ``since`` up to now, any order
#: (the newest page when there are more); forming ones may be included: they are dropped.
FetchCandles = Callable[[str, datetime], Sequence[Candle]]
#: symbol -> the current (predicted) rate, ``time`` = the coming settlement
FetchFunding = Callable[[str], FundingRate]


def engine_lag(bar: Bar) -> timedelta:
    """How far the paper engine's clock runs behind real time: one bar and the grace."""
    return bar.duration + CLOSE_GRACE


class LaggedClock:
    """``clock``'s time minus ``lag`` (the paper engine's clock); waits are ``clock``'s."""

    def __init__(self, clock: Clock, lag: timedelta) -> None:
        if lag < timedelta(0):
            raise InvalidInput("lag", f"must not be negative, got {lag}")
        self._clock = clock
        self._lag = lag

    @property
    def lag(self) -> timedelta:
        return self._lag

    def now(self) -> datetime:
        """The inner clock's time, ``lag`` earlier."""
        return self._clock.now() - self._lag

    def wait(self, stop_event: threading.Event, seconds: float) -> bool:
        """Wait as the inner clock waits; True when ``stop_event`` was set."""
        return self._clock.wait(stop_event, seconds)


class _Held:
    """One symbol's closed candles, as numpy columns, plus what was asked when."""

    def __init__(self) -> None:
        self.series = Series([], [], [], [], [], [])
        self.asked_for: int | None = None  # open (ms) of the newest closed bar last asked for
        self.funding: dict[int, Decimal] = {}
        self.funding_read_at: int | None = None
        self.failure: str = ""  # why the last fetch brought nothing, for the error below


class LivePricePath:
    """A price path of a venue's closed candles, growing as they close (module docstring).

    ``clock`` is real time (the venue's); ``start`` the open time of the first candle
    held (the engine's clock must not be earlier). ``fetch`` and ``funding`` reach the
    venue; ``funding`` None uses ``default_funding`` for every settlement.
    """

    def __init__(
        self,
        symbols: Sequence[str],
        fetch: FetchCandles,
        *,
        clock: Clock,
        start: datetime,
        bar: Bar = MINUTE,
        funding: FetchFunding | None = None,
        default_funding: Decimal = DEFAULT_FUNDING_RATE,
    ) -> None:
        if not symbols:
            raise InvalidInput("symbols", "give at least one symbol")
        self._symbols = tuple(symbols)
        self._fetch = fetch
        self._funding = funding
        self._default_funding = default_funding
        self._clock = clock
        self._bar = bar
        self._step = bar.milliseconds
        self._start_ms = to_ms(bar.floor(require_utc(start, "start")))
        self._held = {s: _Held() for s in self._symbols}
        self._lock = threading.Lock()

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    @property
    def base(self) -> Bar:
        return self._bar

    def first_time(self, symbol: str) -> datetime:
        self._check(symbol)
        return from_ms(self._start_ms)

    def last_time(self, symbol: str) -> datetime | None:
        """None: the path extends as candles close."""
        self._check(symbol)
        return None

    def series(self, symbol: str, until: datetime) -> Series:
        """The closed candles held for ``symbol`` (fetching the newly closed ones first, at
        most once per bar); ``until`` is ignored: nothing past real time exists yet."""
        self._check(symbol)
        with self._lock:
            held = self._held[symbol]
            now_ms = to_ms(self._clock.now())
            self._refresh(symbol, held, now_ms)
            series = held.series
            if len(series) == 0:
                why = f" ({held.failure})" if held.failure else ""
                raise ExchangeUnavailable(
                    f"no closed {self._bar.value} candle of {symbol} has arrived from the "
                    f"venue yet{why}; paper trading has no price until one does"
                )
            # only candles closed by now (the clock may have been set back since they came)
            keep = int(np.searchsorted(series.ts, now_ms - self._step, side="right"))
            if keep == len(series):
                return series
            return Series(*(getattr(series, f)[:keep] for f in _FIELDS))

    def funding_rate(self, symbol: str, settle_time: datetime) -> Decimal:
        """The venue's last predicted rate for ``settle_time``, else the default."""
        self._check(symbol)
        with self._lock:
            return self._held[symbol].funding.get(to_ms(settle_time), self._default_funding)

    def _refresh(self, symbol: str, held: _Held, now_ms: int) -> None:
        newest_closed = now_ms - now_ms % self._step - self._step
        series = held.series
        have = int(series.ts[-1]) if len(series) else None
        if newest_closed < self._start_ms or (have is not None and have >= newest_closed):
            return
        if held.asked_for is not None and held.asked_for >= newest_closed:
            return  # this bar was asked for once already: wait for the next one
        held.asked_for = newest_closed
        since = self._start_ms if have is None else have + self._step
        try:
            fetched = self._fetch(symbol, from_ms(since))
        except Exception as e:  # the venue is down: hold the price, try at the next bar
            log.warning("paper prices: %s candles not fetched (%s)", symbol, e)
            held.failure = str(e)
            fetched = ()
        self._append(held, since, now_ms, fetched)
        self._refresh_funding(symbol, held, now_ms)

    def _append(self, held: _Held, since: int, now_ms: int, fetched: Sequence[Candle]) -> None:
        rows = {}
        for candle in fetched:
            open_ms = to_ms(candle.time)
            if (
                candle.confirmed
                and open_ms >= since
                and open_ms % self._step == 0
                and open_ms + self._step <= now_ms
            ):
                rows[open_ms] = candle
        if not rows:
            return
        new = [rows[t] for t in sorted(rows)]
        old = held.series
        held.series = Series(
            np.concatenate([old.ts, [to_ms(c.time) for c in new]]),
            np.concatenate([old.open, [c.open for c in new]]),
            np.concatenate([old.high, [c.high for c in new]]),
            np.concatenate([old.low, [c.low for c in new]]),
            np.concatenate([old.close, [c.close for c in new]]),
            np.concatenate([old.volume, [c.volume for c in new]]),
        )

    def _refresh_funding(self, symbol: str, held: _Held, now_ms: int) -> None:
        if self._funding is None:
            return
        refresh_ms = FUNDING_REFRESH // timedelta(milliseconds=1)
        if held.funding_read_at is not None and now_ms - held.funding_read_at < refresh_ms:
            return
        held.funding_read_at = now_ms
        try:
            rate = self._funding(symbol)
        except Exception as e:  # the default applies; read again at the next refresh
            log.warning("paper prices: %s funding rate not fetched (%s)", symbol, e)
            return
        held.funding[to_ms(rate.time)] = rate.rate

    def _check(self, symbol: str) -> None:
        if symbol not in self._held:
            raise InvalidInput("symbol", f"{symbol} is not one of {', '.join(self._symbols)}")


_FIELDS = ("ts", "open", "high", "low", "close", "volume")
