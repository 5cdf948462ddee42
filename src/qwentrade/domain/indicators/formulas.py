"""The indicator formulas over whole float64 arrays, with TA-Lib's conventions.

The recurrences (EMA, RSI, MACD, ATR, OBV and its EMA, ADX) are TA-Lib's own functions
(the ``ta-lib`` package, C library included), called by :mod:`.batch`; the functions here
cover the periods of 1 that TA-Lib refuses (RSI, MACD's fast EMA, ADX) with the values
TA-Lib's loops would give, as :class:`.IncrementalIndicators` does. Each returns arrays
of the input's length with NaN before the lookback, as TA-Lib does. TA-Lib's process-wide
settings must stay at their defaults: ``talib.set_unstable_period`` and
``talib.set_compatibility`` change its seeds, values and lookbacks.

Bollinger Bands are this project's own (:func:`bollinger`, :func:`bollinger_two_pass`):
TA-Lib's running-sum sigma is now and then ~1e-9 off the exact value, and these are not.

Zero tests are exact, as in TA-Lib 0.8 (an RSI, DX or Bollinger sigma keeps its value
however small the averages get; older TA-Lib releases zeroed anything below 1e-8, then
1e-14).
"""

from __future__ import annotations

import numpy as np
import talib
from numpy.lib.stride_tricks import sliding_window_view

from qwentrade.domain.indicators.kernels import segmented_sum, workspace
from qwentrade.domain.indicators.params import IndicatorParams

# Rows between exact restarts of the Bollinger running sums (see :func:`bollinger`); a
# multiple of the summing block.
BOLLINGER_ANCHOR = 128
# A Bollinger sum of squares below this fraction of the movement summed since the last
# restart is recomputed two-pass: its rounding (< 6e-15 of that movement) could then
# exceed 1e-9 of it.
BOLLINGER_RECOMPUTE = 1e-5
# Windows per slice of the Bollinger work (a multiple of BOLLINGER_ANCHOR): its dozen
# arrays then stay in the CPU cache instead of streaming through memory once per step,
# and the runs restart at the same rows, so the results do not depend on the slicing.
BOLLINGER_SLICE = 1 << 16
# Above this many window cells bollinger_two_pass goes back to the running sums.
TWO_PASS_CELLS = 1 << 18
# Windows whose sigma is below this fraction of the mean get the exact two-pass of
# exact_moments in bollinger_two_pass: above it the one-pass mean's rounding shows below
# 1e-16 relative.
QUIET_SIGMA = 1e-6


def rsi(close: np.ndarray, period: int) -> np.ndarray:
    """TA-Lib's RSI: Wilder averages of gains and losses seeded at row ``period`` with the
    simple means of the first ``period`` changes; ``100 * gain / (gain + loss)``, and 0
    when both averages are 0 (a market flat from its first candle reads 0, not 50).
    With a period of 1 (which TA-Lib refuses) the averages are the last change's gain and
    loss: 100 after a higher close, 0 otherwise."""
    if period > 1:
        return talib.RSI(close, period)
    out = np.empty(len(close))
    out[:1] = np.nan
    np.greater(close[1:], close[:-1], out=out[1:])
    out[1:] *= 100.0
    return out


def macd(
    close: np.ndarray, fast: int, slow: int, signal: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """TA-Lib's MACD (line, signal, histogram): both EMAs start at the slow EMA's first row
    ``slow - 1``, the fast one seeded with the SMA of the ``fast`` closes ending there (so
    early rows differ from EMA(fast) - EMA(slow)); the signal EMA is seeded with the SMA
    of the first ``signal`` line values; all three start at row ``slow + signal - 2``.
    TA-Lib refuses a fast period of 1; that MACD is spelled out with its EMAs."""
    if fast > 1:
        return talib.MACD(close, fast, slow, signal)
    size, start = len(close), slow - 1
    line, signal_line = np.full(size, np.nan), np.full(size, np.nan)
    if size > start:
        line[start:] = talib.EMA(close[start:], 1) - talib.EMA(close, slow)[start:]
        signal_line[start:] = talib.EMA(line[start:], signal)
    line[: start + signal - 1] = np.nan
    return line, signal_line, line - signal_line


def adx(high: np.ndarray, low: np.ndarray, close: np.ndarray, period: int) -> np.ndarray:
    """TA-Lib's ADX. +DM is the rise of the high when it beats both 0 and the fall of the
    low (-DM likewise; ties give neither); +DM, -DM and TR get Wilder sums seeded with
    their plain sums over rows 1..period-1; DX = 100 * |+DI - -DI| / (+DI + -DI) from row
    ``period``; ADX at row ``2*period - 1`` is the mean of the first ``period`` DX, then
    Wilder's smoothing. Where the TR sum or the DI sum is 0 the DX is undefined: it counts
    0 in the first mean and later leaves the ADX unchanged.

    With a period of 1 (which TA-Lib refuses) the sums are the row's own +DM, -DM and TR,
    so the DX is 100 wherever there is a directional move (which implies a true range)
    and undefined elsewhere."""
    if period > 1:
        return talib.ADX(high, low, close, period)
    size = len(close)
    out = np.full(size, np.nan)
    if size < 2:
        return out
    rise = high[1:] - high[:-1]
    fall = low[:-1] - low[1:]
    defined = (np.maximum(rise, fall) > 0) & (rise != fall)
    held = np.where(defined, np.arange(size - 1), 0)  # the last defined DX (row 1 if none)
    np.maximum.accumulate(held, out=held)
    out[1:] = np.where(defined, 100.0, 0.0)[held]
    return out


def bollinger(
    close: np.ndarray,
    params: IndicatorParams,
    upper: np.ndarray,
    middle: np.ndarray,
    lower: np.ndarray,
    width: np.ndarray,
    work: np.ndarray | None = None,
) -> None:
    """Bollinger Bands as TA-Lib's BBANDS with an SMA: ``middle +/- k * sigma``, sigma the
    POPULATION standard deviation (ddof 0) of the last ``period`` closes.
    ``width = (upper - lower) / middle`` (0 when the middle is 0). ``close`` is only read.

    The window sum and the sum of squared deviations are running sums, the latter updated
    by ``(x_new - x_old) * (x_new - mean_new + x_old - mean_old)`` (no mean(x**2) -
    mean**2 cancellation), on prices minus a reference close so that the mean's rounding
    is that of the moves, not of the price. Both sums restart from an exact two-pass
    value every ``BOLLINGER_ANCHOR`` rows, and a row whose sum of squares is below
    ``BOLLINGER_RECOMPUTE`` times the movement summed since the restart (a quiet or flat
    window) is recomputed two-pass. So sigma is as exact as a two-pass over the window
    (as :class:`IncrementalIndicators`'), exactly 0 on a flat window, and each row depends
    on earlier rows only. The work goes in slices of ``BOLLINGER_SLICE`` windows
    (cache-sized; the runs restart at the same rows either way). ``bb_width`` divides
    ``upper - lower``, a difference of two numbers near the price, so its relative
    rounding is ~1e-16 x price / sigma (1e-7 when sigma is 1e-9 of the price), here as in
    TA-Lib. ``work`` is scratch from :func:`.kernels.workspace` (allocated when None).
    """
    period = params.bb_period
    first = period - 1
    size = len(close)
    if size < period:
        return
    if period == 1:  # one close: no spread at all (TA-Lib does not take a period of 1)
        for band in (upper, middle, lower):
            band[:] = close
        width[:] = 0.0
        return
    count = size - first
    if work is None:
        work = workspace(min(count, BOLLINGER_SLICE) + first)
    for start in range(0, count, BOLLINGER_SLICE):
        stop = min(start + BOLLINGER_SLICE, count) + first
        _bollinger_slice(
            close[start:stop],
            params,
            *(band[start:stop] for band in (upper, middle, lower, width)),
            work,
        )


def _bollinger_slice(
    close: np.ndarray,
    params: IndicatorParams,
    upper: np.ndarray,
    middle: np.ndarray,
    lower: np.ndarray,
    width: np.ndarray,
    work: np.ndarray,
) -> None:
    """:func:`bollinger` on one slice (rows before ``period - 1`` are not written)."""
    period = params.bb_period
    first = period - 1
    size = len(close)
    windows = sliding_window_view(close, period)
    anchors = windows[::BOLLINGER_ANCHOR]
    references = anchors[:, 0]
    anchor_offsets, anchor_squares = exact_moments(anchors)
    # Row i of these views is row first + i; a restart every BOLLINGER_ANCHOR of them.
    mean, squares, step, deviation = (array[first:] for array in (middle, width, lower, upper))
    step[0] = deviation[0] = 0.0
    np.subtract(close[period:], close[:-period], out=step[1:])
    segmented_sum(step, BOLLINGER_ANCHOR, anchor_offsets * period, mean, work)
    mean /= period  # minus the run's reference close
    _per_run(np.subtract, close[first:], references, deviation)  # x_new - reference
    squares[0] = 0.0
    _per_run(np.subtract, close[: size - period], references, squares, start=1)  # x_old - ref
    deviation += squares
    deviation[1:] -= mean[1:]
    deviation[1:] -= mean[:-1]
    deviation *= step
    segmented_sum(deviation, BOLLINGER_ANCHOR, anchor_squares, squares, work)
    # How much the sum of squares moved since its restart bounds its rounding (a bound
    # from earlier rows only: a later candle never changes which rows are recomputed).
    movement = np.abs(deviation, out=deviation)
    segmented_sum(movement, BOLLINGER_ANCHOR, anchor_squares, step, work)
    step *= BOLLINGER_RECOMPUTE
    quiet = np.less(squares, step)
    if quiet.any():
        rows = np.flatnonzero(quiet)
        squares[rows] = exact_moments(windows[rows])[1]
    _per_run(np.add, mean, references, mean)
    squares *= params.bb_stddev**2 / period
    spread = np.sqrt(squares, out=squares)
    np.add(mean, spread, out=deviation)
    np.subtract(mean, spread, out=step)
    np.subtract(deviation, step, out=spread)
    if np.min(mean) > 0:
        spread /= mean
    else:
        np.divide(spread, mean, out=spread, where=mean > 0)


def _per_run(
    operation: np.ufunc,
    values: np.ndarray,
    per_run: np.ndarray,
    out: np.ndarray,
    start: int = 0,
) -> None:
    """``out[i] = operation(values[i - start], per_run[i // BOLLINGER_ANCHOR])`` for every
    row ``i >= start`` of ``out``: one broadcast over whole runs, plus the ragged ends."""
    run, size = BOLLINGER_ANCHOR, len(out)
    body = min(size, -(-start // run) * run)  # the first run boundary at or after start
    if body > start:
        operation(values[: body - start], per_run[start // run], out=out[start:body])
    full = (size - body) // run
    if full:
        source = values[body - start : body - start + full * run].reshape(full, run)
        runs = per_run[body // run : body // run + full, None]
        operation(source, runs, out=out[body : body + full * run].reshape(full, run))
    rest = body + full * run
    if rest < size:
        operation(values[rest - start :], per_run[rest // run], out=out[rest:])


def exact_moments(windows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-pass (mean - first value, sum of squared deviations) of each row of
    ``windows``; centred on the row's first value, so that a flat window gives 0."""
    centred = windows - windows[:, :1]
    offsets = np.einsum("ij->i", centred) / windows.shape[1]
    centred -= offsets[:, None]
    return offsets, np.einsum("ij,ij->i", centred, centred)


def bollinger_two_pass(
    close: np.ndarray,
    params: IndicatorParams,
    upper: np.ndarray,
    middle: np.ndarray,
    lower: np.ndarray,
    width: np.ndarray,
) -> None:
    """:func:`bollinger` for short series, with sigma two-pass over every window
    (``period`` x rows of work: nothing on short series, and far fewer numpy calls than
    the running sums); long ones (over ``TWO_PASS_CELLS`` window cells) go to
    :func:`bollinger`.

    The deviations are taken from the window's mean as summed (one pass fewer than
    :func:`exact_moments`, which centres on the first close first). That mean is off the
    exact one by a few units in the last place of the price, which adds its square to the
    sum of squares: nothing unless sigma is below ``QUIET_SIGMA`` of the price (a width
    below ``2 * k * QUIET_SIGMA``), and those windows (flat ones among them, which must
    give exactly 0) are recomputed with :func:`exact_moments`. The windows are laid out
    one offset per row (``period`` rows of all windows' values), so each step is a few
    long vector operations."""
    period, size = params.bb_period, len(close)
    count = size - period + 1
    if count < 1 or period == 1 or count * period > TWO_PASS_CELLS:
        bollinger(close, params, upper, middle, lower, width)
        return
    first = period - 1
    bands = upper[first:], middle[first:], lower[first:], width[first:]
    close = np.ascontiguousarray(close)
    # Row j, column i: close[i + j], the j-th close of the window ending at row i + first.
    offsets = np.ndarray((period, count), np.float64, close, 0, (close.itemsize,) * 2)
    middle = np.add.reduce(offsets, axis=0, out=bands[1])
    middle /= period
    deviations = offsets.copy()  # a contiguous copy subtracts faster than the strided view
    deviations -= middle
    squares = np.einsum("ij,ij->j", deviations, deviations, out=bands[3])
    _bands_from_squares(squares, params, *bands)
    # A width this small is that of a quiet window (its rounding is far below this margin).
    quiet_width = 2.0 * params.bb_stddev * QUIET_SIGMA * (1 + 1e-6)
    if bands[3].min() <= quiet_width:
        rows = np.flatnonzero(bands[3] <= quiet_width)
        centre, squares = exact_moments(sliding_window_view(close, period)[rows])
        middle[rows] = close[rows] + centre
        quiet_bands = [band[rows] for band in bands]
        _bands_from_squares(squares, params, *quiet_bands)
        for band, values in zip(bands, quiet_bands, strict=True):
            band[rows] = values


def _bands_from_squares(
    squares: np.ndarray,
    params: IndicatorParams,
    upper: np.ndarray,
    middle: np.ndarray,
    lower: np.ndarray,
    width: np.ndarray,
) -> None:
    """The bands and width from the windows' sums of squared deviations and means
    (``squares`` is used up; it may be ``width``)."""
    squares *= params.bb_stddev**2 / params.bb_period
    spread = np.sqrt(squares, out=squares)
    np.add(middle, spread, out=upper)
    np.subtract(middle, spread, out=lower)
    np.subtract(upper, lower, out=width)
    if middle.min() > 0:
        width /= middle
    else:
        np.divide(width, middle, out=width, where=middle > 0)
