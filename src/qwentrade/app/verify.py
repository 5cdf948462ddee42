"""SeriesVerifier: check every stored candle series, and repair it on request.

A series (symbol, timeframe) is sound when it has no gap between its first and last
candle (a maintenance window the venue never had counts as a gap it cannot fill), no
duplicate open time, and indicators equal to a recompute over the whole stored history
(``domain.indicators.verify``). Repair fetches the missing closes (the backfill, from the
first stored candle up to now), then, holding the series' writer lock, rewrites every
indicator from the first wrong cell on.
"""

from __future__ import annotations

from datetime import datetime

import attrs
import polars as pl

from qwentrade.app.backfill import KlineBackfill
from qwentrade.domain.indicators import IndicatorParams, compute
from qwentrade.domain.indicators.batch import CANDLE_COLUMNS
from qwentrade.domain.indicators.verify import wrong_cells
from qwentrade.domain.market import Timeframe
from qwentrade.domain.series import STORED_TIMEFRAMES, require_stored_timeframe
from qwentrade.ports.clock import Clock
from qwentrade.ports.repositories import KlineRepository


@attrs.frozen
class SeriesCheck:
    """What :meth:`SeriesVerifier.check` found (after repair, when asked)."""

    symbol: str
    timeframe: Timeframe
    rows: int
    first: datetime | None
    last: datetime | None
    gaps: int  # closes missing between first and last
    duplicates: int  # open times stored more than once
    wrong_cells: int  # indicator cells that differ from a recompute
    first_wrong: datetime | None
    fetched: int = 0  # candles the repair fetched
    rewritten: int = 0  # rows the repair rewrote

    @property
    def sound(self) -> bool:
        return self.gaps == 0 and self.duplicates == 0 and self.wrong_cells == 0


class SeriesVerifier:
    """Checks (and repairs) stored candle series."""

    def __init__(self, klines: KlineRepository, backfill: KlineBackfill, clock: Clock) -> None:
        self._klines = klines
        self._backfill = backfill
        self._clock = clock

    def series(
        self, symbols: tuple[str, ...] | None = None, timeframes: tuple[Timeframe, ...] = ()
    ) -> list[tuple[str, Timeframe]]:
        """Every stored (symbol, timeframe), optionally narrowed to ``symbols``/``timeframes``."""
        found = []
        for timeframe in timeframes or STORED_TIMEFRAMES:
            for stats in self._klines.stats(timeframe):
                if symbols is None or stats.symbol in symbols:
                    found.append((stats.symbol, timeframe))
        return found

    def check(self, symbol: str, timeframe: Timeframe, repair: bool = False) -> SeriesCheck:
        """Check one series; with ``repair`` fill its gaps and rewrite wrong indicators
        first, then report what remains (a close the venue does not have stays a gap)."""
        timeframe = require_stored_timeframe(timeframe)
        fetched = rewritten = 0
        if repair:
            fetched = self._fill_gaps(symbol, timeframe)
            rewritten = self._rewrite(symbol, timeframe)
        found = self._inspect(symbol, timeframe)
        return attrs.evolve(found, fetched=fetched, rewritten=rewritten)

    def _inspect(self, symbol: str, timeframe: Timeframe) -> SeriesCheck:
        stored = self._klines.range(symbol, timeframe)
        first = stored["time"].min() if stored.height else None
        last = stored["time"].max() if stored.height else None
        gaps = 0
        if first is not None:
            gaps = len(
                self._klines.missing_closes(symbol, timeframe, first, last + timeframe.duration)
            )
        unique = stored.unique(subset="time", keep="last").sort("time")
        wrong = wrong_cells(unique, IndicatorParams.for_timeframe(timeframe))
        return SeriesCheck(
            symbol=symbol,
            timeframe=timeframe,
            rows=stored.height,
            first=first,
            last=last,
            gaps=gaps,
            duplicates=stored.height - unique.height,
            wrong_cells=wrong.height,
            first_wrong=wrong["time"].min() if wrong.height else None,
        )

    def _fill_gaps(self, symbol: str, timeframe: Timeframe) -> int:
        first = self._klines.range(symbol, timeframe, limit=1)
        if first.is_empty():
            return 0
        since = first["time"][0]
        days = (self._clock.now() - since) / _DAY + 1e-9  # from the first stored open on
        return self._backfill.run(symbol, timeframe, days=days).fetched

    def _rewrite(self, symbol: str, timeframe: Timeframe) -> int:
        params = IndicatorParams.for_timeframe(timeframe)
        with self._klines.writing(symbol, timeframe) as series:
            stored = series.range()
            computed = compute(stored.select(CANDLE_COLUMNS), params)
            wrong = wrong_cells(stored, params, expected=computed)
            if wrong.is_empty():
                return 0
            return series.upsert(computed.filter(pl.col("time") >= wrong["time"].min()))


_DAY = Timeframe.D1.duration
