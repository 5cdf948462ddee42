"""KlineGaps: which closed candles of the last N days a series lacks.

The lookup half of a backfill, apart from the exchange and the indicators: the
repository answers ``missing_closes`` (in SQL, from counts and gaps) and
``domain.series.closed_span`` says which candles have closed by now. ``KlineBackfill``
asks it first; the CLI asks it alone for a series with nothing missing, so a rerun with
nothing to do imports neither the exchange nor polars.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from qwentrade.domain.config_keys import CONFIG_KEYS, START_DAYS
from qwentrade.domain.market import Timeframe
from qwentrade.domain.series import closed_span, require_stored_timeframe

if TYPE_CHECKING:
    from qwentrade.ports.clock import Clock
    from qwentrade.ports.config import ConfigStore
    from qwentrade.ports.repositories import KlineIndex


class KlineGaps:
    """Finds the missing closed candles of a series over its history window."""

    def __init__(self, klines: KlineIndex, clock: Clock, config: ConfigStore | None = None) -> None:
        self._klines = klines
        self._clock = clock
        self._config = config

    def start_days(self, timeframe: Timeframe) -> int:
        """The history window of ``timeframe`` in days, read from the config store now
        (``KLINE_15M_START_DAYS`` 30, ``KLINE_4H_START_DAYS`` 180, ``KLINE_1D_START_DAYS``
        600 by default, as the original)."""
        key = START_DAYS[require_stored_timeframe(timeframe).value.lower()]
        if self._config is None:
            return int(CONFIG_KEYS[key].default)
        return int(self._config.get(key))

    def missing(
        self, symbol: str, timeframe: Timeframe, days: float | None = None
    ) -> list[datetime]:
        """Open times (ascending) of the candles of ``symbol`` that closed in the last
        ``days`` days (default :meth:`start_days`) and are not stored, and the holes of the
        stored series before them (:func:`missing_to_repair`)."""
        timeframe = require_stored_timeframe(timeframe)
        if days is None:
            days = self.start_days(timeframe)
        return missing_to_repair(self._klines, symbol, timeframe, self._clock.now(), days)


def missing_to_repair(
    klines: KlineIndex, symbol: str, timeframe: Timeframe, now: datetime, days: float
) -> list[datetime]:
    """Open times (ascending) of the closed candles a run over the last ``days`` days
    before ``now`` must fetch: those missing in that window, and every hole of the stored
    series before it. A stored series never keeps a hole after a run, whatever its
    window: a run killed after storing the old end of its window, followed by a shorter
    run, would otherwise leave one between the two."""
    span = closed_span(timeframe, now - timedelta(days=days), now)
    start = span.start
    first = klines.first_time(symbol, timeframe)
    if first is not None and first < start:
        start = first
    return klines.missing_closes(symbol, timeframe, start, span.end)
