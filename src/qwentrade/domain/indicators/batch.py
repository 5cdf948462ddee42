"""Whole-history indicators on a polars frame of candles: TA-Lib-exact, vectorised numpy.

Every indicator follows the TA-Lib C library (0.8, as bundled by the ``ta-lib`` 0.8
wheels) to the definition; :mod:`.formulas` says per indicator where the convention
matters. The recurrences run as blocked matrix products (:mod:`.kernels`) instead of
TA-Lib's row loop, so values agree to ~1e-14 relative, not to the last bit. Rows before
an indicator's lookback are null where TA-Lib leaves NaN. Nothing loops over rows in
Python.
"""

from __future__ import annotations

import functools
import math
import os
import threading
from typing import Any

import numpy as np
import polars as pl

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.indicators import formulas
from qwentrade.domain.indicators.kernels import workspace
from qwentrade.domain.indicators.params import IndicatorParams

CANDLE_COLUMNS = ("time", "open", "high", "low", "close", "volume")
_PRICES = CANDLE_COLUMNS[1:]
# From this many rows on, the two independent groups of indicators run on two threads.
PARALLEL_ROWS = 1 << 17


def compute(candles: pl.DataFrame, params: IndicatorParams | None = None) -> pl.DataFrame:
    """``candles`` with one Float64 column per indicator added (or replaced).

    ``candles`` needs ``time`` (strictly increasing; Datetime or integer) and ``open``,
    ``high``, ``low``, ``close``, ``volume`` (numeric, finite, >= 0, ``high >= low``); other
    columns are kept. Names and lookbacks follow ``params`` (:attr:`IndicatorParams.columns`;
    the 15m defaults when None): rows before an indicator's lookback are null. Bad input
    raises :class:`InvalidInput` (a ``ValueError``) naming the column and the first bad row.
    """
    params = params or IndicatorParams()
    values = compute_arrays(*candle_arrays(candles), params)
    lookbacks = params.lookbacks
    return candles.with_columns(
        _with_null_prefix(name, values[name], lookbacks[name]) for name in params.columns
    )


def candle_arrays(candles: pl.DataFrame) -> tuple[np.ndarray, ...]:
    """(open, high, low, close, volume) as float64 arrays, once the candles pass every rule
    of :func:`compute` (the time column included)."""
    if not isinstance(candles, pl.DataFrame):
        raise InvalidInput("candles", f"expected a polars DataFrame, got {type(candles).__name__}")
    for name in CANDLE_COLUMNS:
        if name not in candles.columns:
            raise InvalidInput(
                name, "missing column: candles need time, open, high, low, close, volume"
            )
    _check_times(candles["time"])
    arrays = tuple(_number_array(candles[name]) for name in CANDLE_COLUMNS[1:])
    _open, high, low, _close, _volume = arrays
    below = np.less(high, low)
    if below.any():
        row = int(below.argmax())
        raise InvalidInput("high", f"high {high[row]} is below low {low[row]} at row {row}")
    return arrays


def _check_times(times: pl.Series) -> None:
    if not (times.dtype.is_temporal() or times.dtype.is_integer()):
        raise InvalidInput("time", f"must be a Datetime or an integer column, got {times.dtype}")
    if times.null_count():
        raise InvalidInput("time", f"is null at row {int(np.argmax(times.is_null().to_numpy()))}")
    physical = times.to_physical().to_numpy()
    unordered = np.less_equal(physical[1:], physical[:-1])
    if unordered.any():
        row = int(unordered.argmax()) + 1
        what = "repeats" if physical[row] == physical[row - 1] else "goes backwards"
        raise InvalidInput(
            "time",
            f"{what} at row {row} ({times[row]} after {times[row - 1]}): "
            "candles must be sorted by time, without duplicates",
        )


def _number_array(column: pl.Series) -> np.ndarray:
    name = column.name
    if not column.dtype.is_numeric():
        raise InvalidInput(name, f"must be numeric, got {column.dtype}")
    if column.null_count():
        raise InvalidInput(name, f"is null at row {int(np.argmax(column.is_null().to_numpy()))}")
    values = column.to_numpy()
    if values.dtype != np.float64:
        values = values.astype(np.float64)
    if len(values) and not (np.min(values) >= 0 and np.max(values) < np.inf):
        row = int(np.argmax(~(np.isfinite(values) & (values >= 0))))
        raise InvalidInput(name, f"is {values[row]} at row {row}: must be finite and >= 0")
    return values


def _with_null_prefix(name: str, values: np.ndarray, lookback: int) -> pl.Series:
    """The column with its first ``lookback`` rows null, without copying the values."""
    if lookback >= len(values):
        return pl.Series(name, [None] * len(values), pl.Float64)
    body = pl.Series(name, values[lookback:])
    if not lookback:
        return body
    return pl.concat([pl.Series(name, [None] * lookback, pl.Float64), body], rechunk=False)


def compute_arrays(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    params: IndicatorParams,
) -> dict[str, np.ndarray]:
    """Every indicator as a float64 array keyed by column name; rows before a column's
    lookback hold garbage (not NaN). The inputs must be valid (see :func:`compute`).

    The close-only indicators and the range/volume ones share no array, so on long
    inputs the second group runs on a worker thread while this one runs the first (numpy
    releases the GIL); the results do not depend on it.
    """
    # One allocation for every output and the one spare array: touching fresh memory
    # costs page faults, and one large block takes far fewer of them than 16 small ones.
    block = np.empty((len(params.columns) + 1, len(close)))
    out = dict(zip(params.columns, block, strict=False))
    jobs = (
        functools.partial(_close_indicators, close, params, out),
        functools.partial(_range_indicators, high, low, close, volume, params, out, block[-1]),
    )
    if len(close) < PARALLEL_ROWS or (os.cpu_count() or 1) < 2:
        for job in jobs:
            job()
        return out
    failures: list[BaseException] = []

    def second_job() -> None:
        try:
            jobs[1]()
        except BaseException as e:  # re-raised on the calling thread below
            failures.append(e)

    worker = threading.Thread(target=second_job, name="qwentrade-indicators")
    worker.start()
    try:
        jobs[0]()
    finally:
        worker.join()
    if failures:
        raise failures[0]
    return out


def _close_indicators(
    close: np.ndarray, params: IndicatorParams, out: dict[str, np.ndarray]
) -> None:
    """EMAs, MACD and Bollinger Bands: filters of the close alone."""
    work = workspace(len(close))
    # The EMA filters borrow a writable copy of the closes; it lives in the Bollinger
    # width, which is written last (Bollinger reads the closes given).
    closes = out["bb_width"]
    closes[:] = close
    for period in params.ema_periods:
        formulas.ema(closes, period, out[f"ema_{period}"], work)
    formulas.macd(closes, params, out["macd_line"], out["signal_line"], out["histogram"], work)
    bands = (out["bb_upper"], out["bb_middle"], out["bb_lower"], out["bb_width"])
    formulas.bollinger(close, params, *bands, work)


def _range_indicators(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    params: IndicatorParams,
    out: dict[str, np.ndarray],
    spare: np.ndarray,
) -> None:
    """ATR, ADX, OBV and its EMA, RSI: the indicators of ranges and close changes. Outputs
    not yet written serve as scratch, so one ``spare`` array is all this needs."""
    size = len(close)
    work = workspace(size)
    obv, obv_ema = out["obv"], out[f"obv_ema_{params.obv_ema_period}"]
    rsi, atr = out[f"rsi_{params.rsi_period}"], out[f"atr_{params.atr_period}"]
    adx = out[f"adx_{params.adx_period}"]
    if size < 2:
        formulas.obv(close[:0], volume, obv)
        formulas.ema(obv, params.obv_ema_period, obv_ema, work)
        return
    ranges = formulas.true_range(high, low, close, spare, scratch=atr)
    formulas.atr(ranges, params.atr_period, atr, work)
    formulas.adx(high, low, ranges, params.adx_period, adx, (rsi, obv_ema), work)
    change = np.subtract(close[1:], close[:-1], out=spare[1:])
    gains = np.maximum(change, 0.0, out=obv_ema[1:])
    formulas.obv(change, volume, obv)
    formulas.rsi(change, gains, params.rsi_period, rsi, spare, work)
    formulas.ema(obv, params.obv_ema_period, obv_ema, work)


def checked_candle(
    time: Any, open_: Any, high: Any, low: Any, close: Any, volume: Any, last_time: Any
) -> tuple[Any, float, float, float, float]:
    """(time, high, low, close, volume) of one candle that passes the rules of
    :func:`compute` and comes after ``last_time``, or InvalidInput naming the field."""
    try:
        prices = (float(open_), float(high), float(low), float(close), float(volume))
    except (TypeError, ValueError):
        prices = _numbers(open_, high, low, close, volume)
    o, h, lo, c, v = prices
    if not (
        0.0 <= o < math.inf
        and 0.0 <= lo <= h < math.inf
        and 0.0 <= c < math.inf
        and 0.0 <= v < math.inf
    ):
        for name, number in zip(_PRICES, prices, strict=True):
            if not 0.0 <= number < math.inf:
                raise InvalidInput(name, f"is {number!r}: must be finite and >= 0")
        raise InvalidInput("high", f"high {h} is below low {lo}")
    if last_time is not None:
        try:
            later = time > last_time
        except TypeError:
            raise InvalidInput(
                "time", f"{time!r} cannot be compared with the last time {last_time!r}"
            ) from None
        if not later:
            what = "repeats" if time == last_time else "goes backwards from"
            raise InvalidInput("time", f"{time} {what} the last candle's time {last_time}")
    elif time is None:
        raise InvalidInput("time", "is missing")
    return time, h, lo, c, v


def _numbers(*values: Any) -> tuple[float, ...]:
    for name, value in zip(_PRICES, values, strict=True):
        try:
            float(value)
        except (TypeError, ValueError):
            raise InvalidInput(name, f"must be a number, got {value!r}") from None
    raise AssertionError("unreachable: one of the values is not a number")
