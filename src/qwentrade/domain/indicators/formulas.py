"""The indicator formulas over whole float64 arrays, with TA-Lib's conventions.

Each function writes its results into arrays given by the caller (rows before the
indicator's lookback are left as they were) and says which inputs it leaves unchanged
and which it uses up as scratch: fresh memory costs page faults that weigh more than
most of the arithmetic, so :mod:`.batch` lends arrays from one step to the next.

Zero tests are exact, as in TA-Lib 0.8 (checked against it: an RSI, DX or Bollinger
sigma keeps its value however small the averages get; older TA-Lib releases zeroed
anything below 1e-8, then 1e-14).
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from qwentrade.domain.indicators.kernels import recurrence, segmented_sum
from qwentrade.domain.indicators.params import IndicatorParams

# Rows between exact restarts of the Bollinger running sums (see :func:`bollinger`); a
# multiple of the recurrence block.
BOLLINGER_ANCHOR = 128
# A Bollinger sum of squares below this fraction of the movement summed since the last
# restart is recomputed two-pass: its rounding (< 6e-15 of that movement) could then
# exceed 1e-9 of it.
BOLLINGER_RECOMPUTE = 1e-5
# Windows per slice of the Bollinger work (a multiple of BOLLINGER_ANCHOR): its dozen
# arrays then stay in the CPU cache instead of streaming through memory once per step,
# and the runs restart at the same rows, so the results do not depend on the slicing.
BOLLINGER_SLICE = 1 << 16


# Rows per slice of a run of elementwise steps: the arrays of one slice stay in the CPU
# cache, so a run of steps reads and writes memory about once instead of once per step
# (on long series memory bandwidth, not arithmetic, sets the pace).
SLICE = 1 << 16


def slices(size: int) -> list[tuple[int, int]]:
    """(start, stop) of consecutive slices of ``SLICE`` rows covering ``size`` rows."""
    return [(start, min(start + SLICE, size)) for start in range(0, size, SLICE)]


def sma_seed(values: np.ndarray, period: int) -> float:
    """TA-Lib's seed: the plain running sum of ``values`` divided by ``period``."""
    return float(np.cumsum(values)[-1]) / period if len(values) else 0.0


def ema(values: np.ndarray, period: int, out: np.ndarray, work: np.ndarray) -> None:
    """EMA with TA-Lib's seeding: ``out[period-1]`` is the SMA of the first ``period``
    values, then ``out[t] = out[t-1] + k * (x[t] - out[t-1])`` with ``k = 2 / (period+1)``
    (not seeded by the first value, as pandas' ``ewm(adjust=False)`` is).
    ``values`` must be writable; it is left unchanged."""
    if len(values) < period:
        return
    k = 2.0 / (period + 1)
    seed = sma_seed(values[:period], period)
    out[period - 1] = seed
    recurrence(values[period:], 1.0 - k, k, seed, out[period:], work)


def wilder(
    values: np.ndarray, period: int, out: np.ndarray, work: np.ndarray, preserve: bool = True
) -> None:
    """Wilder's smoothing of ``values`` (``values[i]`` belongs to row ``i + 1``):
    ``out[period]`` is the mean of rows 1..period, then
    ``out[t] = (out[t-1] * (period-1) + x[t]) / period``."""
    if len(values) < period:
        return
    seed = sma_seed(values[:period], period)
    out[period] = seed
    decay = (period - 1) / period
    recurrence(values[period:], decay, 1.0 / period, seed, out[period + 1 :], work, preserve)


def rsi(
    change: np.ndarray,
    gains: np.ndarray,
    period: int,
    out: np.ndarray,
    average_gain: np.ndarray,
    work: np.ndarray,
) -> None:
    """TA-Lib RSI: Wilder averages of gains and losses seeded at row ``period`` with the
    simple means of the first ``period`` changes; ``100 * gain / (gain + loss)``, and 0
    when both averages are 0 (a market flat from its first candle reads 0, not 50).

    ``change[i]`` is row ``i + 1``'s close minus row ``i``'s and ``gains`` is
    ``max(change, 0)``; both are used up. Smoothing is linear, so the average loss is
    the average gain minus the average change: no array of losses is needed.
    ``average_gain`` is scratch of the output's length; it may be the array behind
    ``change``."""
    size = len(out)
    if size <= period:
        return
    wilder(change, period, out, work, preserve=False)  # the average change
    wilder(gains, period, average_gain, work, preserve=False)
    rsi_from_averages(out, average_gain, period)


def rsi_from_averages(out: np.ndarray, average_gain: np.ndarray, period: int) -> None:
    """The end of :func:`rsi`: ``out`` holds the average change from row ``period`` on and
    becomes the RSI; ``average_gain`` is only read."""
    gains, totals = average_gain[period:], out[period:]
    for start, stop in slices(len(totals)):
        gain, total = gains[start:stop], totals[start:stop]
        np.subtract(gain, total, out=total)  # the average loss
        np.maximum(total, 0.0, out=total)  # not below 0 by rounding: RSI stays <= 100
        total += gain
        if total.min() > 0:
            np.divide(gain, total, out=total)
        else:
            moving = total > 0
            np.divide(gain, total, out=total, where=moving)
            total[~moving] = 0.0
        total *= 100.0


def macd(
    closes: np.ndarray,
    params: IndicatorParams,
    line: np.ndarray,
    signal: np.ndarray,
    histogram: np.ndarray,
    work: np.ndarray,
) -> None:
    """TA-Lib MACD: both EMAs start at the slow EMA's first row ``slow-1``, the fast one
    seeded with the SMA of the ``fast`` closes ending there (so early rows differ from
    EMA(fast) - EMA(slow)); the signal EMA is seeded with the SMA of the first ``signal``
    line values; all three outputs start at row ``slow + signal - 2``. ``closes`` must be
    writable; it is left unchanged."""
    fast, slow, smooth = params.macd_fast, params.macd_slow, params.macd_signal
    start = slow - 1
    first = start + smooth - 1
    if len(closes) <= first:
        return
    slow_ema = histogram  # scratch until the histogram is computed
    for period, target in ((slow, slow_ema), (fast, line)):
        k = 2.0 / (period + 1)
        seed = sma_seed(closes[slow - period : slow], period)
        target[start] = seed
        recurrence(closes[slow:], 1.0 - k, k, seed, target[slow:], work)
    line[start:] -= slow_ema[start:]
    k = 2.0 / (smooth + 1)
    seed = sma_seed(line[start : first + 1], smooth)
    signal[first] = seed
    recurrence(line[first + 1 :], 1.0 - k, k, seed, signal[first + 1 :], work)
    np.subtract(line[first:], signal[first:], out=histogram[first:])


def bollinger(
    close: np.ndarray,
    params: IndicatorParams,
    upper: np.ndarray,
    middle: np.ndarray,
    lower: np.ndarray,
    width: np.ndarray,
    work: np.ndarray,
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
    (as TA-Lib 0.8's and :class:`IncrementalIndicators`'), exactly 0 on a flat window, and
    each row depends on earlier rows only. The work goes in slices of ``BOLLINGER_SLICE``
    windows (cache-sized; the runs restart at the same rows either way). ``bb_width``
    divides ``upper - lower``, a difference of two numbers near the price, so its relative
    rounding is ~1e-16 x price / sigma (1e-7 when sigma is 1e-9 of the price), here as in
    TA-Lib.
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


def obv(change: np.ndarray, volume: np.ndarray, out: np.ndarray) -> None:
    """TA-Lib OBV: ``obv[0] = volume[0]``, then plus the volume on a higher close, minus it
    on a lower one, unchanged on an equal one. Summed in row order like TA-Lib, so equal
    to the last bit. ``change`` (as for :func:`rsi`) is left unchanged."""
    if not len(out):
        return
    out[0] = volume[0]
    np.sign(change, out=out[1:])
    out[1:] *= volume[1:]
    np.cumsum(out, out=out)


def true_range(
    high: np.ndarray, low: np.ndarray, close: np.ndarray, out: np.ndarray, scratch: np.ndarray
) -> np.ndarray:
    """TA-Lib's TRANGE ``max(high, prev close) - min(low, prev close)`` from row 1, into
    ``out[1:]`` (returned); ``scratch`` (same length) is used up."""
    for start, stop in slices(len(close) - 1):
        rows, previous = slice(start + 1, stop + 1), slice(start, stop)
        result = np.maximum(high[rows], close[previous], out=out[rows])
        result -= np.minimum(low[rows], close[previous], out=scratch[rows])
    return out[1:]


def atr(ranges: np.ndarray, period: int, out: np.ndarray, work: np.ndarray) -> None:
    """TA-Lib ATR: ``atr[period]`` is the mean of the first ``period`` true ranges
    (``ranges[i]`` belongs to row ``i + 1``), then Wilder's smoothing. ``ranges`` is left
    unchanged."""
    wilder(ranges, period, out, work)


def adx(
    high: np.ndarray,
    low: np.ndarray,
    ranges: np.ndarray,
    period: int,
    out: np.ndarray,
    scratch: tuple[np.ndarray, np.ndarray],
    work: np.ndarray,
) -> None:
    """TA-Lib ADX. +DM is the rise of the high when it beats both 0 and the fall of the low
    (-DM likewise, ties give neither); +DM, -DM and TR get Wilder sums seeded with their
    plain sums over rows 1..period-1; DX = 100 * |+DI - -DI| / (+DI + -DI) from row
    ``period``; ADX at row ``2*period - 1`` is the mean of the first ``period`` DX, then
    Wilder's smoothing. Where the TR sum or the DI sum is 0 the DX is undefined: it counts
    0 in the first mean and later leaves the ADX unchanged.

    The sums are linear, so this smooths ``+DM - -DM`` and ``+DM + -DM`` (= |+DM - -DM|,
    as one of them is 0) instead of each; and the TR sum cancels out of the DX, so only
    whether it is 0 (no true range yet) matters. ``ranges`` (true ranges, ``[i]`` belongs
    to row ``i + 1``) is left unchanged; both ``scratch`` arrays (of the output's length)
    are used up, and ``out`` is scratch too until the end."""
    size = len(high)
    if size < 2 * period:
        return
    one, two, three = (array[: size - 1] for array in (*scratch, out))
    for start, stop in slices(size - 1):
        rows, previous = slice(start + 1, stop + 1), slice(start, stop)
        rise = np.subtract(high[rows], high[previous], out=one[previous])
        fall = np.subtract(low[previous], low[rows], out=two[previous])
        move = np.maximum(rise, fall, out=three[previous])
        np.maximum(move, 0.0, out=move)
        np.subtract(rise, fall, out=rise)
        net_move = np.sign(rise, out=fall)  # not in place: numpy's in-place sign is 8x slower
        net_move *= move  # +DM - -DM
        np.abs(net_move, out=move)  # +DM + -DM
    net_move, total_move = two, three
    decay, gain = (period - 1) / period, 1.0 / period
    net, total = one[: size - period], two[: size - period]
    # Each average goes where its input's predecessor lived (used up by then).
    for values, average in ((net_move, net), (total_move, total)):
        seed = sma_seed(values[: period - 1], period)
        recurrence(values[period - 1 :], decay, gain, seed, average, work, preserve=False)
    # DX row j belongs to row period + j; the TR sum is 0 until the first true range.
    flat_rows = 0 if ranges[0] > 0 else int(np.argmax(ranges > 0)) if ranges.any() else size
    dx = net
    defined = None
    if flat_rows < period and total.min() > 0:
        for start, stop in slices(len(dx)):
            part = np.abs(dx[start:stop], out=dx[start:stop])
            part /= total[start:stop]
            np.minimum(part, 1.0, out=part)  # |+DM - -DM| <= +DM + -DM, also after rounding
    else:
        np.abs(net, out=dx)
        defined = total > 0
        defined[: max(flat_rows + 1 - period, 0)] = False
        np.divide(dx, total, out=dx, where=defined)
        dx[~defined] = 0.0
        np.minimum(dx, 1.0, out=dx)
    first = 2 * period - 1
    seed = sma_seed(dx[:period], period) * 100.0
    out[first] = seed
    tail = dx[period:]
    if defined is None or defined[period:].all():
        recurrence(tail, decay, 100.0 / period, seed, out[first + 1 :], work, preserve=False)
    else:
        # An undefined DX holds the ADX: run the recurrence over the defined rows only,
        # then carry each result forward over the undefined rows after it.
        kept = defined[period:]
        smoothed = np.empty(int(kept.sum()) + 1)
        smoothed[0] = seed
        recurrence(tail[kept], decay, 100.0 / period, seed, smoothed[1:], preserve=False)
        out[first + 1 :] = smoothed[np.cumsum(kept)]
    # A DX of 1 throughout smooths to 100 plus rounding: the ADX stays within 0..100.
    for start, stop in slices(size - first):
        part = out[first + start : first + stop]
        np.minimum(part, 100.0, out=part)
