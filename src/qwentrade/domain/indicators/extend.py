"""Extending a stored series with new candles, reading only a bounded tail of it.

The stored indicators must always equal :func:`.batch.compute` over the whole stored
history. :func:`extend` keeps that true while reading at most ``params.warmup`` stored
candles before the first new one (615 for the defaults), however long the history:

1. The stored rows before the first new candle (``before``, newest last) are either the
   whole history before it (fewer than ``warmup`` rows): then the result is a plain
   recompute over them and the new candles, exact by construction; or its last
   ``warmup`` rows: then :meth:`IncrementalIndicators.from_batch` takes the states the
   columns store (EMAs, MACD signal, ATR, OBV, OBV EMA, ADX) from the last of them and
   replays the rest for the states no column stores, and each later candle is one
   :meth:`~IncrementalIndicators.update` (agreeing with a full recompute to ~1e-13).
2. Stored candles at or after the first new one (``after``: a gap filled in the middle)
   are recomputed too, so a candle that lands before stored ones recomputes from there
   on. A new candle replaces a stored one at the same time.
3. A tail whose last row lacks an indicator cannot seed the states: :class:`NeedHistory`
   asks the caller for the whole history before the first new candle instead.
"""

from __future__ import annotations

import polars as pl

from qwentrade.domain.errors import DomainError
from qwentrade.domain.indicators.batch import CANDLE_COLUMNS, compute
from qwentrade.domain.indicators.incremental import IncrementalIndicators
from qwentrade.domain.indicators.params import IndicatorParams


class NeedHistory(DomainError):
    """The stored tail cannot seed the indicator states: pass the whole history."""


def extend(
    before: pl.DataFrame,
    new: pl.DataFrame,
    after: pl.DataFrame,
    params: IndicatorParams,
    whole: bool = False,
) -> pl.DataFrame:
    """The rows to store from the first new candle on: ``new`` merged with ``after``
    (``new`` wins on equal times), candle columns plus ``params.columns``, oldest first.

    ``before`` holds the stored rows (candles and indicators) before the first new candle,
    oldest first: its last ``params.warmup`` rows at least, or the whole history before
    it (then say ``whole=True``, or pass fewer than ``warmup`` rows). Raises
    :class:`NeedHistory` when a partial ``before`` cannot seed the states.
    """
    candles = (
        pl.concat(
            [new.select(CANDLE_COLUMNS), after.select(CANDLE_COLUMNS)], how="vertical_relaxed"
        )
        .unique(subset="time", keep="first", maintain_order=True)
        .sort("time")
    )
    if candles.is_empty():
        return candles
    if whole or before.height < params.warmup:
        history = pl.concat([before.select(CANDLE_COLUMNS), candles], how="vertical_relaxed")
        return compute(history, params).slice(before.height)
    last = before.tail(1)
    unseeded = [
        name for name in params.columns if name not in last.columns or last[name][0] is None
    ]
    if unseeded:
        raise NeedHistory(f"the stored tail's last row lacks {', '.join(unseeded)}")
    try:
        state = IncrementalIndicators.from_batch(before, params)
    except DomainError as e:
        raise NeedHistory(f"the stored tail cannot seed the indicators ({e})") from None
    rows = [state.update(candle) for candle in candles.iter_rows(named=True)]
    values = pl.DataFrame(rows, schema=dict.fromkeys(params.columns, pl.Float64), orient="row")
    return pl.concat([candles, values], how="horizontal")
