"""Whole-history indicators on a polars frame of candles, computed by TA-Lib itself.

The recurrences (EMAs, RSI, MACD, ATR, OBV and its EMA, ADX) are TA-Lib's own C functions
(the ``ta-lib`` package, its C library bundled in the wheel), so their values are
TA-Lib's to the bit; :mod:`.formulas` covers the periods of 1 TA-Lib refuses. Bollinger
Bands are this project's own, exact where TA-Lib's running-sum sigma is ~1e-9 off:
two-pass over every window on short series (up to ``SMALL_ROWS``), exactly restarted
running sums on long ones. Rows before an indicator's lookback are null where TA-Lib
leaves NaN. Nothing loops over rows in Python. Short series' columns are built without
polars' per-call conversions; long series' columns share TA-Lib's arrays (no copy).
"""

from __future__ import annotations

import functools
import math
import os
import threading
from typing import Any

import numpy as np
import polars as pl
import talib

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.indicators import formulas
from qwentrade.domain.indicators.params import IndicatorParams

try:
    # polars' own constructor from a float64 array, without the checks and conversions of
    # pl.Series() (about 3 us a column, most of a 100-row compute()), and its own hstack
    # of what it makes; private, so guarded.
    from polars._plr import PyDataFrame as _PyDataFrame
    from polars._plr import PySeries as _PySeries

    _float_series_fast = _PySeries.new_f64
    assert callable(_PyDataFrame.hstack) and callable(pl.DataFrame._from_pydf)
except (ImportError, AttributeError, AssertionError):  # pragma: no cover - another polars
    _float_series_fast = None

CANDLE_COLUMNS = ("time", "open", "high", "low", "close", "volume")
_PRICES = CANDLE_COLUMNS[1:]
_INF_BITS = np.float64(np.inf).view(np.uint64)
# From this many rows on, the two independent groups of indicators run on two threads.
PARALLEL_ROWS = 1 << 17
# Up to this many rows compute() takes the short-series path: Bollinger two-pass over
# every window, and columns made null before their lookbacks by their NaN.
SMALL_ROWS = 2048
# Below this no value of a short series can overflow (nor become NaN by inf - inf), so a
# NaN there is a row before a lookback; larger inputs get their nulls by lookback, as
# long series do, and an overflow stays NaN (not null).
MAX_INPUT = 1e150


def compute(candles: pl.DataFrame, params: IndicatorParams | None = None) -> pl.DataFrame:
    """``candles`` with one Float64 column per indicator added (or replaced).

    ``candles`` needs ``time`` (strictly increasing; Datetime or integer) and ``open``,
    ``high``, ``low``, ``close``, ``volume`` (numeric, finite, >= 0, ``high >= low``); other
    columns are kept. Names and lookbacks follow ``params`` (:attr:`IndicatorParams.columns`;
    the 15m defaults when None): rows before an indicator's lookback are null. Bad input
    raises :class:`InvalidInput` (a ``ValueError``) naming the column and the first bad row.
    Values are TA-Lib's, with its process-wide settings at their defaults, except the
    Bollinger Bands: the project's own, as exact as a two-pass over each window (see
    :mod:`.formulas`).
    """
    params = params or _default_params()
    arrays, largest = _checked_arrays(candles)
    values = compute_arrays(*arrays, params)
    names = _names(params)
    disjoint = set(names).isdisjoint(candles.columns)
    if len(arrays[3]) <= SMALL_ROWS and largest < MAX_INPUT:
        if _float_series_fast is not None and disjoint:
            # a third of the cost of wrapping each column in a pl.Series first
            fast = [_float_series_fast(name, values[name], True) for name in names]
            return candles._from_pydf(candles._df.hstack(fast))
        columns = _columns_by_nan(values, names)
    else:
        lookbacks = params.lookbacks
        columns = [_with_null_prefix(name, values[name], lookbacks[name]) for name in names]
    if disjoint:
        return candles.hstack(columns)
    return candles.with_columns(columns)


@functools.cache
def _default_params() -> IndicatorParams:
    return IndicatorParams()


@functools.lru_cache(maxsize=32)
def _names(params: IndicatorParams) -> tuple[str, ...]:
    return params.columns


def _columns_by_nan(values: dict[str, np.ndarray], names: tuple[str, ...]) -> list[pl.Series]:
    """The columns, null where NaN: before each lookback, and nowhere else on a short
    series below ``MAX_INPUT``."""
    if _float_series_fast is not None:
        return [
            pl.Series._from_pyseries(_float_series_fast(name, values[name], True)) for name in names
        ]
    return [pl.Series(name, values[name], nan_to_null=True) for name in names]


def candle_arrays(candles: pl.DataFrame) -> tuple[np.ndarray, ...]:
    """(open, high, low, close, volume) as float64 arrays, once the candles pass every rule
    of :func:`compute` (the time column included)."""
    return _checked_arrays(candles)[0]


def _checked_arrays(candles: pl.DataFrame) -> tuple[tuple[np.ndarray, ...], float]:
    """:func:`candle_arrays` and the largest of their values."""
    if not isinstance(candles, pl.DataFrame):
        raise InvalidInput("candles", f"expected a polars DataFrame, got {type(candles).__name__}")
    try:
        times, *columns = [candles.get_column(name) for name in CANDLE_COLUMNS]
    except pl.exceptions.ColumnNotFoundError:
        missing = next(name for name in CANDLE_COLUMNS if name not in candles.columns)
        raise InvalidInput(
            missing, "missing column: candles need time, open, high, low, close, volume"
        ) from None
    _check_times(times)
    checked = _small_arrays(columns) if candles.height <= SMALL_ROWS else None
    if checked is not None:
        return checked
    numbers = [_number_array(column) for column in columns]
    arrays = tuple(values for values, _largest in numbers)
    _open, high, low, _close, _volume = arrays
    below = np.less(high, low)
    if below.any():
        row = int(below.argmax())
        raise InvalidInput("high", f"high {high[row]} is below low {low[row]} at row {row}")
    return arrays, max(largest for _values, largest in numbers)


def _small_arrays(columns: list[pl.Series]) -> tuple[tuple[np.ndarray, ...], float] | None:
    """The price columns as the rows of one float64 block, with ``high - low`` in a last
    row, all checked with one reduction (on short series the calls, not the values, are
    the cost); None when any rule is broken, for :func:`_checked_arrays` to name the
    first."""
    size = len(columns[0])
    block = np.empty((len(columns) + 1, size))
    for row, column in enumerate(columns):
        values = column.to_numpy()
        if values.dtype.kind not in "fiu":
            return None
        block[row] = values
    prices = tuple(block[:-1])
    if not size:
        return prices, 0.0
    np.subtract(prices[1], prices[2], out=block[-1])
    # As in _number_array: finite doubles >= 0 are those whose bits are below inf's (a
    # null reads as NaN here; high below low gives a negative last row). high - low is
    # at most high, so the largest value is that of the prices.
    largest_bits = block.view(np.uint64).max()
    if largest_bits >= _INF_BITS:
        return None
    return prices, float(largest_bits.view(np.float64))


def _check_times(times: pl.Series) -> None:
    dtype = times.dtype
    if not (dtype.is_temporal() or dtype.is_integer()):
        raise InvalidInput("time", f"must be a Datetime or an integer column, got {dtype}")
    if times.null_count():
        raise InvalidInput("time", f"is null at row {int(np.argmax(times.is_null().to_numpy()))}")
    # Datetimes compare as numpy datetime64 (no copy); other temporals through a cast, not
    # to_physical(): the same integers at a twentieth of the cost on short series
    direct = isinstance(dtype, pl.Datetime) or dtype.is_integer()
    physical = (times if direct else times.cast(pl.Int64)).to_numpy()
    unordered = np.less_equal(physical[1:], physical[:-1])
    if unordered.any():
        row = int(unordered.argmax()) + 1
        what = "repeats" if physical[row] == physical[row - 1] else "goes backwards"
        raise InvalidInput(
            "time",
            f"{what} at row {row} ({times[row]} after {times[row - 1]}): "
            "candles must be sorted by time, without duplicates",
        )


def _number_array(column: pl.Series) -> tuple[np.ndarray, float]:
    name = column.name
    if not column.dtype.is_numeric():
        raise InvalidInput(name, f"must be numeric, got {column.dtype}")
    if column.null_count():
        raise InvalidInput(name, f"is null at row {int(np.argmax(column.is_null().to_numpy()))}")
    values = column.to_numpy()
    if values.dtype != np.float64:
        values = values.astype(np.float64)
    if not len(values):
        return values, 0.0
    # One reduction instead of min and max: as unsigned integers the finite doubles >= 0
    # are exactly those below inf's bits (a sign bit, inf and NaN all compare above).
    # -0.0 too fails this, and passes the exact test below.
    largest_bits = values.view(np.uint64).max()
    if largest_bits < _INF_BITS:
        return values, float(largest_bits.view(np.float64))
    if not (values.min() >= 0 and values.max() < np.inf):
        row = int(np.argmax(~(np.isfinite(values) & (values >= 0))))
        raise InvalidInput(name, f"is {values[row]} at row {row}: must be finite and >= 0")
    return values, float(values.max())


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
    threads: int | None = None,
) -> dict[str, np.ndarray]:
    """Every indicator as a float64 array keyed by column name (in column order), NaN
    before the column's lookback. The inputs must be valid (see :func:`compute`).

    Bollinger and the RSI share no work with the other indicators, so on long inputs they
    run on a worker thread while this one runs the rest (TA-Lib and numpy release the
    GIL), when ``threads`` (default: the CPUs this process may run on) is 2 or more; the
    results do not depend on it.
    """
    out: dict[str, np.ndarray] = dict.fromkeys(_names(params))  # in column order
    if len(close) < PARALLEL_ROWS or (_usable_cpus() if threads is None else threads) < 2:
        _talib_indicators(high, low, close, volume, params, out)
        _bollinger_and_rsi(close, params, out)
        return out
    failures: list[BaseException] = []

    def second_job() -> None:
        try:
            _bollinger_and_rsi(close, params, out)
        except BaseException as e:  # re-raised on the calling thread below
            failures.append(e)

    worker = threading.Thread(target=second_job, name="qwentrade-indicators")
    worker.start()
    try:
        _talib_indicators(high, low, close, volume, params, out)
    finally:
        worker.join()
    if failures:
        raise failures[0]
    return out


def _usable_cpus() -> int:
    """CPUs this process may run on: a process pinned to one (``taskset``) gets no thread."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _talib_indicators(
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    params: IndicatorParams,
    out: dict[str, np.ndarray],
) -> None:
    """EMAs, MACD, ATR, OBV and its EMA, ADX: TA-Lib's functions."""
    for period in params.ema_periods:
        out[f"ema_{period}"] = talib.EMA(close, period)
    out["macd_line"], out["signal_line"], out["histogram"] = formulas.macd(
        close, params.macd_fast, params.macd_slow, params.macd_signal
    )
    out[f"atr_{params.atr_period}"] = talib.ATR(high, low, close, params.atr_period)
    obv = out["obv"] = talib.OBV(close, volume)
    out[f"obv_ema_{params.obv_ema_period}"] = talib.EMA(obv, params.obv_ema_period)
    out[f"adx_{params.adx_period}"] = formulas.adx(high, low, close, params.adx_period)


def _bollinger_and_rsi(
    close: np.ndarray, params: IndicatorParams, out: dict[str, np.ndarray]
) -> None:
    """The project's Bollinger Bands (two-pass on short series) and TA-Lib's RSI."""
    bands = np.empty((4, len(close)))
    bands[:, : params.bb_period - 1] = np.nan
    if len(close) <= SMALL_ROWS:
        formulas.bollinger_two_pass(close, params, *bands)
    else:
        formulas.bollinger(close, params, *bands)
    out.update(zip(("bb_upper", "bb_middle", "bb_lower", "bb_width"), bands, strict=True))
    out[f"rsi_{params.rsi_period}"] = formulas.rsi(close, params.rsi_period)


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
