"""Candle series of several shapes, TA-Lib references and the comparison rule of the
indicator tests (a support module: no tests here).

The rule: every value within 1e-9 relative of the reference, after its lookback, with nulls
(NaN in TA-Lib) in the same rows. A relative bound alone cannot hold where a value is a
small difference of large ones, so some columns also get an absolute allowance, each far
below anything a chart or a detector could notice:

* price-like columns (EMAs, MACD, Bollinger bands, ATR): 1e-12 x the largest close. The
  MACD line is EMA(fast) - EMA(slow): each EMA carries ~1e-16 x price of rounding, so near
  a zero crossing the line (and the histogram) can only be as exact as that, in absolute
  terms.
* RSI and ADX (0..100): 1e-9.
* OBV EMA: 1e-12 x the total volume (an EMA of a running sum that crosses zero).
* OBV: none at all; it is summed in TA-Lib's order and must be equal to the bit.

``both_paths`` is an autouse fixture a test module imports to run each of its tests on
both of compute()'s paths (short series, long series), by moving the threshold between
them.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import numpy as np
import polars as pl
import pytest
import talib

from qwentrade.domain.indicators import IndicatorParams, batch

T0 = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=15)
RELATIVE = 1e-9
PRICE_LIKE = (
    "ema_",
    "macd_line",
    "signal_line",
    "histogram",
    "bb_upper",
    "bb_middle",
    "bb_lower",
    "atr_",
)


@pytest.fixture(autouse=True, params=["short path", "long path"])
def both_paths(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Runs a test on compute()'s short-series path, then on its long-series one."""
    if request.param == "long path":
        monkeypatch.setattr(batch, "SMALL_ROWS", -1)
    return request.param


def frame(
    close: np.ndarray,
    high: np.ndarray | None = None,
    low: np.ndarray | None = None,
    volume: np.ndarray | None = None,
    open_: np.ndarray | None = None,
) -> pl.DataFrame:
    """A candle frame (15m, from ``T0``); high/low default to the body, volume to 100."""
    close = np.asarray(close, dtype=np.float64)
    if open_ is None:
        open_ = np.concatenate([close[:1], close[:-1]])
    high = np.maximum(open_, close) if high is None else np.asarray(high, dtype=np.float64)
    low = np.minimum(open_, close) if low is None else np.asarray(low, dtype=np.float64)
    volume = np.full(close.shape, 100.0) if volume is None else np.asarray(volume, np.float64)
    start_us = int((T0 - datetime(1970, 1, 1, tzinfo=UTC)) / timedelta(microseconds=1))
    times = start_us + np.arange(close.size, dtype=np.int64) * int(STEP / timedelta(microseconds=1))
    return pl.DataFrame(
        {
            "time": pl.Series(times).cast(pl.Datetime("us", "UTC")),
            "open": open_,
            "high": high,
            "low": low,
            "close": close,
            "volume": volume,
        }
    )


def walk(
    rng: np.random.Generator, size: int, price: float, volatility: float = 0.003
) -> pl.DataFrame:
    """A random walk with wicks and lognormal volume around ``price``."""
    close = price * np.exp(np.cumsum(rng.normal(0.0, volatility, size)))
    open_ = np.concatenate([[price], close[:-1]])
    wick = np.abs(rng.normal(0.0, volatility, (2, size)))
    high = np.maximum(open_, close) * (1 + wick[0])
    low = np.minimum(open_, close) * (1 - wick[1])
    volume = rng.lognormal(4.0, 0.8, size)
    return frame(close, high, low, volume, open_)


def _flatten(candles: pl.DataFrame, rows: slice) -> pl.DataFrame:
    """Turn ``rows`` into maintenance candles: o = h = l = c = the previous close, volume 0."""
    data = {
        name: candles[name].to_numpy().copy() for name in ("open", "high", "low", "close", "volume")
    }
    level = data["close"][rows.start - 1]
    for name in ("open", "high", "low", "close"):
        data[name][rows] = level
    data["volume"][rows] = 0.0
    # The candle after the stretch opens where it left off.
    data["open"][rows.stop] = level
    data["high"][rows.stop] = max(data["high"][rows.stop], level)
    data["low"][rows.stop] = min(data["low"][rows.stop], level)
    return frame(data["close"], data["high"], data["low"], data["volume"], data["open"])


def shapes(size: int = 1500, seed: int = 11) -> dict[str, Callable[[], pl.DataFrame]]:
    """Named makers of candle frames of ``size`` (>= 400) rows: trends, flat, gaps, extreme
    prices. Each maker draws from its own generator, so a shape does not depend on the
    others."""
    ramp = np.linspace(0.0, 1.0, size)

    def trend(rng: np.random.Generator, sign: float) -> pl.DataFrame:
        close = 1000.0 * (1 + sign * 0.8 * ramp) * (1 + rng.normal(0.0, 5e-4, size))
        return frame(close, close * 1.001, close * 0.999, rng.lognormal(3.0, 0.5, size))

    def volume_gaps(rng: np.random.Generator) -> pl.DataFrame:
        candles = walk(rng, size, 2500.0)
        volume = candles["volume"].to_numpy().copy()
        volume[rng.random(size) < 0.2] = 0.0
        volume[size // 3 : size // 3 + 80] = 0.0
        return candles.with_columns(volume=pl.Series(volume))

    def quantised(rng: np.random.Generator) -> pl.DataFrame:
        # Prices on a 0.5 tick: equal closes, equal highs, moves that tie.
        candles = walk(rng, size, 60.0, 0.01)
        return candles.with_columns(
            *((pl.col(name) * 2).round(0) / 2 for name in ("open", "close")),
            (pl.col("high") * 2).ceil() / 2,
            (pl.col("low") * 2).floor() / 2,
        )

    def stretches(rng: np.random.Generator) -> pl.DataFrame:
        # A maintenance window of 40 candles, then one of size/5 (longer than any period).
        candles = _flatten(walk(rng, size, 1800.0), slice(size // 4, size // 4 + 40))
        return _flatten(candles, slice(size // 2, size // 2 + size // 5))

    def range_bound_start(rng: np.random.Generator) -> pl.DataFrame:
        # Closes move inside a fixed high/low band: true ranges but no directional
        # movement, so the DX is undefined (ADX held) until the walk breaks out.
        candles = walk(rng, size, 100.0, 0.004)
        band = size // 10
        close = candles["close"].to_numpy().copy()
        close[:band] = 100.0 + np.sin(np.arange(band))
        high = candles["high"].to_numpy().copy()
        low = candles["low"].to_numpy().copy()
        high[:band], low[:band] = 101.5, 98.5
        open_ = np.concatenate([[100.0], close[:-1]])
        high[band] = max(high[band], open_[band])
        low[band] = min(low[band], open_[band])
        return frame(close, high, low, candles["volume"].to_numpy(), open_)

    makers: dict[str, Callable[[np.random.Generator], pl.DataFrame]] = {
        "random walk": lambda rng: walk(rng, size, 30_000.0),
        "trend up": lambda rng: trend(rng, 1.0),
        "trend down": lambda rng: trend(rng, -1.0),
        "flat": lambda rng: frame(np.full(size, 1234.5), volume=np.zeros(size)),
        "flat stretches": stretches,
        "volume gaps": volume_gaps,
        "tick-quantised": quantised,
        "huge prices": lambda rng: walk(rng, size, 3e9),
        "tiny prices": lambda rng: walk(rng, size, 2e-5),
        "range-bound start": range_bound_start,
        "tiny prices, long flat": lambda rng: _flatten(
            walk(rng, size, 3e-6), slice(size // 8, size // 8 + size // 2)
        ),
    }
    return {
        name: (lambda make=make, index=index: make(np.random.default_rng([seed, index])))
        for index, (name, make) in enumerate(makers.items())
    }


def talib_reference(candles: pl.DataFrame, params: IndicatorParams) -> dict[str, np.ndarray]:
    """Every column computed by TA-Lib (``bb_width`` from TA-Lib's bands)."""
    high, low, close, volume = (
        candles[name].to_numpy().astype(np.float64) for name in ("high", "low", "close", "volume")
    )
    out = {f"ema_{period}": talib.EMA(close, period) for period in params.ema_periods}
    out[f"rsi_{params.rsi_period}"] = talib.RSI(close, params.rsi_period)
    out["macd_line"], out["signal_line"], out["histogram"] = talib.MACD(
        close, params.macd_fast, params.macd_slow, params.macd_signal
    )
    upper, middle, lower = talib.BBANDS(close, params.bb_period, params.bb_stddev, params.bb_stddev)
    out["bb_upper"], out["bb_middle"], out["bb_lower"] = upper, middle, lower
    with np.errstate(divide="ignore", invalid="ignore"):
        out["bb_width"] = np.where(
            middle > 0, (upper - lower) / middle, np.where(np.isnan(middle), np.nan, 0.0)
        )
    out[f"atr_{params.atr_period}"] = talib.ATR(high, low, close, params.atr_period)
    out["obv"] = talib.OBV(close, volume)
    out[f"obv_ema_{params.obv_ema_period}"] = talib.EMA(out["obv"], params.obv_ema_period)
    out[f"adx_{params.adx_period}"] = talib.ADX(high, low, close, params.adx_period)
    return out


def allowance(column: str, candles: pl.DataFrame) -> float:
    """The absolute allowance of ``column`` (see the module docstring)."""
    if column.startswith(PRICE_LIKE):
        return 1e-12 * float(candles["close"].abs().max())
    if column.startswith(("rsi_", "adx_")):
        return 1e-9
    if column.startswith("obv_ema_"):
        return 1e-12 * float(candles["volume"].sum())
    if column == "bb_width":
        return 1e-12
    return 0.0


def as_array(values: pl.Series | list[float | None] | np.ndarray) -> np.ndarray:
    """Floats with NaN for null."""
    if isinstance(values, pl.Series):
        return values.cast(pl.Float64).fill_null(np.nan).to_numpy()
    return np.array([np.nan if value is None else value for value in values], dtype=np.float64)


def mismatches(
    ours: np.ndarray, reference: np.ndarray, absolute: float, relative: float = RELATIVE
) -> str | None:
    """None when ``ours`` matches ``reference`` (nulls in the same rows, values within
    ``relative`` or ``absolute``); otherwise a description of the first mismatch."""
    ours_null, reference_null = np.isnan(ours), np.isnan(reference)
    if not np.array_equal(ours_null, reference_null):
        row = int(np.argmax(ours_null != reference_null))
        return f"null in different rows, first at row {row}: {ours[row]} vs {reference[row]}"
    both = ~ours_null
    error = np.abs(ours[both] - reference[both])
    bound = np.maximum(relative * np.abs(reference[both]), absolute)
    if np.all(error <= bound):
        return None
    worst = int(np.argmax(error - bound))
    row = int(np.flatnonzero(both)[worst])
    return (
        f"row {row}: {ours[row]!r} vs {reference[row]!r} (error {error[worst]:.3g}, "
        f"allowed {bound[worst]:.3g}); {int(np.sum(error > bound))} rows off"
    )
