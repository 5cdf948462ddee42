"""Stored indicators against a recompute: which cells differ, beyond float noise.

A stored series is right when every indicator cell equals :func:`.batch.compute` over the
whole stored history: nulls in the same places, values within 1e-9 relative, or within
an absolute allowance for the columns where relative error means nothing (the same rule
as the TA-Lib equality tests):

- differences of price-scale values (EMAs, MACD, Bollinger, ATR): 1e-12 x the largest
  close (MACD crosses zero; its operands are prices);
- OBV and its EMA (cumulative volume, crossing zero): 1e-12 x the total volume;
- RSI and ADX (0..100): 1e-9; Bollinger width (a ratio): 1e-12.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from qwentrade.domain.indicators.batch import CANDLE_COLUMNS, compute
from qwentrade.domain.indicators.params import IndicatorParams

RELATIVE = 1e-9


def _allowance(column: str, close_max: float, volume_sum: float) -> float:
    if column.startswith("obv"):
        return 1e-12 * volume_sum
    if column.startswith(("rsi_", "adx_")):
        return 1e-9
    if column == "bb_width":
        return 1e-12
    return 1e-12 * close_max


def wrong_cells(
    stored: pl.DataFrame, params: IndicatorParams, expected: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per wrong cell of ``stored`` (a series' candles with indicators, oldest
    first): ``time``, ``column``, ``stored`` and ``expected`` (null where null).
    ``expected`` is ``compute`` over ``stored``'s candles, when the caller has it."""
    if expected is None:
        expected = compute(stored.select(CANDLE_COLUMNS), params)
    close_max = float(stored["close"].abs().max() or 0.0)
    volume_sum = float(stored["volume"].abs().sum() or 0.0)
    times = stored["time"]
    found = []
    for name in params.columns:
        have = stored[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        want = expected[name].cast(pl.Float64).fill_null(np.nan).to_numpy()
        have_null, want_null = np.isnan(have), np.isnan(want)
        with np.errstate(invalid="ignore"):
            near = np.abs(have - want) <= (
                RELATIVE * np.maximum(np.abs(have), np.abs(want))
                + _allowance(name, close_max, volume_sum)
            )
        bad = np.nonzero((have_null != want_null) | (~have_null & ~want_null & ~near))[0]
        if bad.size:
            found.append(
                pl.DataFrame(
                    {
                        "time": times.gather(bad),
                        "column": [name] * bad.size,
                        "stored": pl.Series(have[bad]).fill_nan(None),
                        "expected": pl.Series(want[bad]).fill_nan(None),
                    }
                )
            )
    if not found:
        return pl.DataFrame(
            schema={
                "time": times.dtype,
                "column": pl.String,
                "stored": pl.Float64,
                "expected": pl.Float64,
            }
        )
    return pl.concat(found).sort("time", "column")
