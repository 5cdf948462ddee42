"""Whole-history indicators on a polars frame of candles: TA-Lib-exact, vectorised numpy.

Every indicator follows the TA-Lib C library (0.8, as bundled by the ``ta-lib`` 0.8
wheels) to the definition; :mod:`.formulas` says per indicator where the convention
matters. The recurrences run as blocked matrix products (:mod:`.kernels`) instead of
TA-Lib's row loop, so values agree to ~1e-14 relative, not to the last bit. Rows before
an indicator's lookback are null where TA-Lib leaves NaN. Nothing loops over rows in
Python. Short series (up to ``SMALL_ROWS``) take :mod:`.small`, the same formulas in far
fewer numpy calls, and their columns are built without polars' per-call conversions.
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
from qwentrade.domain.indicators.small import MAX_INPUT, SMALL_ROWS, compute_small, null_prefix

try:
    # polars' own constructor from a float64 array, without the checks and conversions of
    # pl.Series() (about 3 us a column, most of a 100-row compute()); private, so guarded.
    from polars._plr import PySeries as _PySeries

    _float_series_fast = _PySeries.new_f64
except (ImportError, AttributeError):  # pragma: no cover - another polars
    _float_series_fast = None

CANDLE_COLUMNS = ("time", "open", "high", "low", "close", "volume")
_PRICES = CANDLE_COLUMNS[1:]
_INF_BITS = np.float64(np.inf).view(np.uint64)
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
    params = params or _default_params()
    arrays, largest = _checked_arrays(candles)
    columns = None
    if len(arrays[3]) <= SMALL_ROWS and largest < MAX_INPUT:
        columns = _block_columns(compute_small(*arrays, params), params)
    if columns is None:
        values = compute_arrays(*arrays, params)
        lookbacks = params.lookbacks
        columns = [
            _with_null_prefix(name, values[name], lookbacks[name]) for name in params.columns
        ]
    if set(_names(params)).isdisjoint(candles.columns):
        return candles.hstack(columns)
    return candles.with_columns(columns)


@functools.cache
def _default_params() -> IndicatorParams:
    return IndicatorParams()


@functools.lru_cache(maxsize=32)
def _names(params: IndicatorParams) -> tuple[str, ...]:
    return params.columns


def _block_columns(block: np.ndarray, params: IndicatorParams) -> list[pl.Series] | None:
    """The columns of a :func:`.small.compute_small` block, null before each lookback; None
    when a value is NaN (an overflow), which would then read as null too."""
    prefix = null_prefix(block.shape[1], params)
    block.reshape(-1)[prefix] = np.nan
    if np.count_nonzero(np.isnan(block[:-1])) != len(prefix):
        return None
    names = _names(params)
    if _float_series_fast is not None:
        return [
            pl.Series._from_pyseries(_float_series_fast(name, block[row], True))
            for row, name in enumerate(names)
        ]
    return [pl.Series(name, block[row], nan_to_null=True) for row, name in enumerate(names)]


def candle_arrays(candles: pl.DataFrame) -> tuple[np.ndarray, ...]:
    """(open, high, low, close, volume) as float64 arrays, once the candles pass every rule
    of :func:`compute` (the time column included)."""
    return _checked_arrays(candles)[0]


def _checked_arrays(candles: pl.DataFrame) -> tuple[tuple[np.ndarray, ...], float]:
    """:func:`candle_arrays` and the largest of their values."""
    if not isinstance(candles, pl.DataFrame):
        raise InvalidInput("candles", f"expected a polars DataFrame, got {type(candles).__name__}")
    for name in CANDLE_COLUMNS:
        if name not in candles.columns:
            raise InvalidInput(
                name, "missing column: candles need time, open, high, low, close, volume"
            )
    _check_times(candles.get_column("time"))
    columns = [candles.get_column(name) for name in _PRICES]
    checked = _small_arrays(columns) if candles.height <= SMALL_ROWS else None
    if checked is None:
        numbers = [_number_array(column) for column in columns]
        checked = (
            tuple(values for values, _largest in numbers),
            max(largest for _values, largest in numbers),
        )
    arrays, largest = checked
    _open, high, low, _close, _volume = arrays
    below = np.less(high, low)
    if below.any():
        row = int(below.argmax())
        raise InvalidInput("high", f"high {high[row]} is below low {low[row]} at row {row}")
    return arrays, largest


def _small_arrays(columns: list[pl.Series]) -> tuple[tuple[np.ndarray, ...], float] | None:
    """The price columns as the rows of one float64 block, checked with one min and one max
    for all (on short series the calls, not the values, are the cost); None when any
    column breaks a rule, for :func:`_number_array` to name the first."""
    size = len(columns[0])
    block = np.empty((len(columns), size))
    for row, column in enumerate(columns):
        if not column.dtype.is_numeric() or column.null_count():
            return None
        block[row] = column.to_numpy()
    if not size:
        return tuple(block), 0.0
    largest = block.max()
    if not (block.min() >= 0 and largest < np.inf):
        return None
    return tuple(block), float(largest)


def _check_times(times: pl.Series) -> None:
    if not (times.dtype.is_temporal() or times.dtype.is_integer()):
        raise InvalidInput("time", f"must be a Datetime or an integer column, got {times.dtype}")
    if times.null_count():
        raise InvalidInput("time", f"is null at row {int(np.argmax(times.is_null().to_numpy()))}")
    # cast, not to_physical(): the same integers at a twentieth of the cost on short series
    physical = (times.cast(pl.Int64) if times.dtype.is_temporal() else times).to_numpy()
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
    """Every indicator as a float64 array keyed by column name; rows before a column's
    lookback hold garbage (not NaN). The inputs must be valid (see :func:`compute`).

    The close-only indicators and the range/volume ones share no array, so on long
    inputs the second group runs on a worker thread while this one runs the first (numpy
    releases the GIL), when ``threads`` (default: the CPUs this process may run on) is 2
    or more; the results do not depend on it.
    """
    # One allocation for every output and the one spare array: touching fresh memory
    # costs page faults, and one large block takes far fewer of them than 16 small ones.
    block = np.empty((len(params.columns) + 1, len(close)))
    out = dict(zip(params.columns, block, strict=False))
    jobs = (
        functools.partial(_close_indicators, close, params, out),
        functools.partial(_range_indicators, high, low, close, volume, params, out, block[-1]),
    )
    if threads is None:
        threads = _usable_cpus()
    if len(close) < PARALLEL_ROWS or threads < 2:
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


def _usable_cpus() -> int:
    """CPUs this process may run on: a process pinned to one (``taskset``) gets no thread."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


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
    # The changes, their gains and OBV's signed volumes (formulas.obv's steps), slice by slice.
    for start, stop in formulas.slices(size - 1):
        rows, previous = slice(start + 1, stop + 1), slice(start, stop)
        step = np.subtract(close[rows], close[previous], out=spare[rows])
        np.maximum(step, 0.0, out=obv_ema[rows])
        signed = np.sign(step, out=obv[rows])
        signed *= volume[rows]
    obv[0] = volume[0]
    np.cumsum(obv, out=obv)
    change, gains = spare[1:], obv_ema[1:]
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
