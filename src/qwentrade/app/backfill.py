"""KlineBackfill: fill the candle tables from the exchange, with their indicators.

For each symbol and stored timeframe it asks the repository which closed candles are
missing over the requested days (``domain.series`` does the arithmetic), fetches them in
pages of at most 300 (OKX's page size), keeps closed candles only (OKX ``confirm = 1``),
and stores them holding the series' writer lock from the read to the commit: the
indicators from the first new candle on are extended from a bounded stored tail
(``domain.indicators.extend``), equal to a recompute over the whole stored history (a
filled gap recomputes every later candle), written in one transaction. Re-running it is
cheap and changes nothing: only missing candles are fetched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

import attrs
import polars as pl

from qwentrade.app.gaps import KlineGaps
from qwentrade.domain.indicators import IndicatorParams
from qwentrade.domain.indicators.extend import NeedHistory, extend
from qwentrade.domain.market import Candle, Timeframe, TimeRange
from qwentrade.domain.series import (
    OHLCV_COLUMNS,
    missing_ranges,
    plan_pages,
    require_stored_timeframe,
)
from qwentrade.ports.clock import Clock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.exchange import Exchange
from qwentrade.ports.repositories import KlineRepository

PAGE_SIZE = 300


@attrs.frozen
class BackfillReport:
    """What one (symbol, timeframe) backfill did; ``still_missing`` are closes the venue
    did not have (maintenance windows)."""

    symbol: str
    timeframe: Timeframe
    fetched: int
    written: int
    still_missing: int
    first: datetime | None
    last: datetime | None


def candles_to_frame(candles: Sequence[Candle]) -> pl.DataFrame:
    """Closed candles as a frame with ``time`` and OHLCV (Float64), oldest first."""
    return pl.DataFrame(
        {
            "time": [c.time for c in candles],
            **{name: [float(getattr(c, name)) for c in candles] for name in OHLCV_COLUMNS},
        },
        schema={"time": pl.Datetime("us", "UTC"), **dict.fromkeys(OHLCV_COLUMNS, pl.Float64)},
    )


class KlineBackfill:
    """Backfills klines tables from an :class:`Exchange` into a :class:`KlineRepository`."""

    def __init__(
        self,
        exchange: Exchange,
        klines: KlineRepository,
        clock: Clock,
        page_size: int = PAGE_SIZE,
        config: ConfigStore | None = None,
        between_read_and_write: Callable[[], None] | None = None,
    ) -> None:
        self._exchange = exchange
        self._klines = klines
        self._page_size = page_size
        self._gaps = KlineGaps(klines, clock, config)
        # called under the series lock after the stored tail is read (tests pause here)
        self._between_read_and_write = between_read_and_write or (lambda: None)

    def start_days(self, timeframe: Timeframe) -> int:
        """The history window of ``timeframe`` in days, read from the config store now
        (``KLINE_15M_START_DAYS`` 30, ``KLINE_4H_START_DAYS`` 180, ``KLINE_1D_START_DAYS``
        600 by default, as the original)."""
        return self._gaps.start_days(timeframe)

    def run(self, symbol: str, timeframe: Timeframe, days: float | None = None) -> BackfillReport:
        """Fetch and store every missing closed candle of the last ``days`` days (default:
        the timeframe's configured history window, :meth:`start_days`)."""
        timeframe = require_stored_timeframe(timeframe)
        if days is None:
            days = self.start_days(timeframe)
        missing = self._missing(symbol, timeframe, days)
        fetched: list[Candle] = []
        for page in self._pages(timeframe, missing):
            candles = self._exchange.candles(symbol, timeframe, span=page, limit=self._page_size)
            fetched.extend(c for c in candles if c.confirmed and c.time in page)
        written = self.store(symbol, timeframe, fetched) if fetched else 0
        times = {c.time for c in fetched}
        return BackfillReport(
            symbol=symbol,
            timeframe=timeframe,
            fetched=len(fetched),
            written=written,
            still_missing=sum(1 for t in missing if t not in times),
            first=min(times, default=None),
            last=max(times, default=None),
        )

    def _missing(self, symbol: str, timeframe: Timeframe, days: float) -> list[datetime]:
        return self._gaps.missing(symbol, timeframe, days)

    def _pages(self, timeframe: Timeframe, missing: list[datetime]) -> list[TimeRange]:
        return plan_pages(timeframe, missing_ranges(timeframe, missing), self._page_size)

    def store(self, symbol: str, timeframe: Timeframe, candles: Sequence[Candle]) -> int:
        """Write ``candles`` with indicators equal to a recompute over the whole stored
        history, holding the series' writer lock from the read to the commit (one writer
        per series across processes; one transaction), reading only a bounded tail."""
        new = candles_to_frame(candles)
        params = IndicatorParams.for_timeframe(timeframe)
        first_new = new["time"].min()
        with self._klines.writing(symbol, timeframe) as series:
            before = series.range(end=first_new, limit=params.warmup, newest_first=True)
            after = series.range(start=first_new)
            self._between_read_and_write()
            try:
                rows = extend(before.reverse(), new, after, params)
            except NeedHistory:
                rows = extend(series.range(end=first_new), new, after, params, whole=True)
            return series.upsert(rows)
