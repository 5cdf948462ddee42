"""The whole indicator set on a short series (up to ``SMALL_ROWS`` candles) in a few dozen
numpy calls: what a detection, a live update or a backfill page computes.

On short series the per-call cost of numpy dominates, not the arithmetic: the blocked
kernels of :mod:`.kernels` spend about 30 calls per recurrence, and the set has 13
recurrences. Here every recurrence of one stage (the EMAs, MACD's two EMAs, RSI's two
Wilder averages, ATR, ADX's two Wilder sums, the OBV EMA; then MACD's signal and the ADX)
is one row of a matrix: its inputs are gathered from one array of all the source series
by a cached index (:class:`_Plan`), the rows run together (:func:`scan_rows`), and the
results are scattered into the output block by another cached index. Bollinger sigma is
a two-pass over every window (``period`` x rows of work: nothing on short series).

The formulas and TA-Lib's conventions are those of :mod:`.formulas`, step for step
(seeds are TA-Lib's running sums in row order); only the order of evaluation differs, so
values agree with the long-series path to ~1e-14 relative. Each row depends on earlier
rows only (prefix sums and elementwise steps): a later candle never changes an earlier
value, to the bit.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numpy as np

from qwentrade.domain.indicators import formulas
from qwentrade.domain.indicators.kernels import workspace
from qwentrade.domain.indicators.params import IndicatorParams

# Up to this many rows compute() takes this path; above it the blocked kernels win.
SMALL_ROWS = 2048
# Above this many window cells Bollinger goes back to the running sums of formulas.
TWO_PASS_CELLS = 1 << 18
# Scaled prefix sums restart before c**-t passes 1e100 (see scan_rows); with inputs below
# MAX_INPUT nothing comes near overflow, and the scaling costs no precision.
MAX_SCALE_LOG = 100 * math.log(10)
MAX_INPUT = 1e150
# Bollinger windows whose sigma is below this fraction of the mean get the exact two-pass
# (see _bollinger): above it the one-pass mean's rounding shows below 1e-16 relative.
QUIET_SIGMA = 1e-6
# The source series of stage 1, in their order in the gathered array.
SOURCES = ("close", "change", "gains", "ranges", "net_move", "total_move", "obv")


@functools.lru_cache(maxsize=64)
def _scales(coefficients: tuple[float, ...], gains: tuple[float, ...]) -> tuple:
    """(gain * c**-t, c**t) per row for t up to the chunk length at which the scaling
    restarts (a c of 0 counts as 1 there: its rows are a product only), the coefficients,
    and that length."""
    c = np.array([coefficient or 1.0 for coefficient in coefficients])[:, None]
    smallest = float(c.min())
    chunk = SMALL_ROWS
    if smallest < 1.0:
        chunk = max(1, min(chunk, int(MAX_SCALE_LOG / -math.log(smallest))))
    steps = np.arange(chunk, dtype=np.float64)
    shrink = np.array(gains)[:, None] * c**-steps
    grow = c**steps
    for table in (shrink, grow):
        table.setflags(write=False)
    return shrink, grow, np.array(coefficients), chunk


def scan_rows(
    inputs: np.ndarray,
    coefficients: tuple[float, ...],
    gains: tuple[float, ...],
    initials: np.ndarray,
    out: np.ndarray,
) -> None:
    """Row i: ``out[i, t] = coefficients[i] * out[i, t-1] + gains[i] * inputs[i, t]`` with
    ``out[i, -1] = initials[i]``, for all rows at once (``out`` may be a view).

    Per chunk of columns, ``out[t] = c**t * cumsum(gain * x * c**-t)`` with ``c * initial``
    added to the first scaled input: a product, a prefix sum and a product for every row.
    The rounding of a prefix sum is relative to the sum, and so that of ``out`` to the
    decayed sum of the earlier ``|out|``: the bound of the row-by-row loop. A coefficient
    of 0 (a period of 1) is ``gain * x``. ``inputs`` is used up; its values must stay
    below ``MAX_INPUT``.
    """
    length = inputs.shape[1]
    if not length:
        return
    shrink, grow, c, chunk = _scales(coefficients, gains)
    carry = initials
    for start in range(0, length, chunk):
        stop = min(start + chunk, length)
        part = inputs[:, start:stop]
        part *= shrink[:, : stop - start]
        part[:, 0] += c * carry  # c**0 is 1: the carry needs no scaling
        block = out[:, start:stop]
        np.cumsum(part, axis=1, out=block)
        block *= grow[:, : stop - start]
        carry = block[:, -1]
    for row, coefficient in enumerate(coefficients):
        if not coefficient:
            # scanned with c = 1, so the scaled input is gain * x: the result itself
            out[row] = inputs[row]


class _Job(NamedTuple):
    """One recurrence of stage 1: ``out[seed_row] = sum(source[:seed_count]) / period``,
    then ``out[seed_row + 1 + t] = coefficient * out[seed_row + t] + gain *
    source[first + t]``. Without a column the results stay in the scan's matrix."""

    source: str
    first: int
    seed_start: int
    seed_count: int
    period: int
    coefficient: float
    gain: float
    column: int | None
    seed_row: int


def _ema_job(source: str, period: int, column: int, seed_start: int = 0, first: int = 0):
    """TA-Lib's EMA (seeded with the SMA of ``period`` values from ``seed_start``)."""
    first = first or period
    k = 2.0 / (period + 1)
    return _Job(source, first, seed_start, period, period, 1.0 - k, k, column, first - 1)


def _wilder_job(source: str, period: int, column: int | None, seeds: int | None = None):
    """Wilder's smoothing of a series whose value ``i`` belongs to row ``i + 1``."""
    seeds = period if seeds is None else seeds
    return _Job(
        source, seeds, 0, seeds, period, (period - 1) / period, 1.0 / period, column, period
    )


class _Plan:
    """Where stage 1's recurrences read and write, for one (size, params): computed once
    (see :func:`_plan`)."""

    def __init__(self, size: int, params: IndicatorParams) -> None:
        self.size = size
        rows = {name: row for row, name in enumerate(params.columns)}
        self.rows = rows
        self.scratch = len(rows)
        jobs = [
            _ema_job("close", period, rows[f"ema_{period}"])
            for period in params.ema_periods
            if size >= period
        ]
        fast, slow, smooth = params.macd_fast, params.macd_slow, params.macd_signal
        self.macd = size > slow + smooth - 2
        if self.macd:  # both EMAs start at the slow one's first row (formulas.macd)
            jobs.append(_ema_job("close", slow, rows["histogram"]))
            jobs.append(_ema_job("close", fast, rows["macd_line"], slow - fast, slow))
        period = params.obv_ema_period
        if size >= period:
            jobs.append(_ema_job("obv", period, rows[f"obv_ema_{period}"]))
        period = params.rsi_period
        self.rsi = size > period
        if self.rsi:
            jobs.append(_wilder_job("change", period, rows[f"rsi_{period}"]))
            jobs.append(_wilder_job("gains", period, self.scratch))
        period = params.atr_period
        if size > period:
            jobs.append(_wilder_job("ranges", period, rows[f"atr_{period}"]))
        period = params.adx_period
        self.adx = size >= 2 * period
        self.adx_rows = (len(jobs), len(jobs) + 1)
        if self.adx:  # Wilder sums seeded with period - 1 values (formulas.adx)
            jobs.append(_wilder_job("net_move", period, None, period - 1))
            jobs.append(_wilder_job("total_move", period, None, period - 1))
        self.jobs = jobs
        self._layout(size, jobs)

    def _layout(self, size: int, jobs: list[_Job]) -> None:
        """Gather indices (inputs and seeds, into the array of sources) and scatter indices
        (results, into the output block) of every job."""
        lengths = {name: size if name in ("close", "obv") else max(size - 1, 0) for name in SOURCES}
        offsets, offset = {}, 0
        for name in SOURCES:
            offsets[name] = offset
            offset += lengths[name]
        self.offsets = offsets
        self.spans = tuple(slice(offsets[name], offsets[name] + lengths[name]) for name in SOURCES)
        self.source_size = offset + 1  # a trailing zero pads short rows
        counts = [max(lengths[job.source] - job.first, 0) for job in jobs]
        self.length = max(counts, default=0)
        widest = max((job.seed_count for job in jobs), default=1) or 1
        self.inputs = np.full((len(jobs), self.length), offset, dtype=np.intp)
        self.seeds = np.full((len(jobs), widest), offset, dtype=np.intp)
        targets, sources = [], []
        for row, (job, count) in enumerate(zip(jobs, counts, strict=True)):
            base = offsets[job.source]
            self.inputs[row, :count] = base + job.first + np.arange(count)
            self.seeds[row, : job.seed_count] = base + job.seed_start + np.arange(job.seed_count)
            if job.column is not None:
                span = np.arange(count + 1)
                targets.append(job.column * size + job.seed_row + span)
                sources.append(row * (self.length + 1) + span)
        self.targets = np.concatenate(targets) if targets else np.empty(0, dtype=np.intp)
        self.sources = np.concatenate(sources) if sources else np.empty(0, dtype=np.intp)
        self.divisors = np.array([job.period for job in jobs], dtype=np.float64)
        self.coefficients = tuple(job.coefficient for job in jobs)
        self.gains = tuple(job.gain for job in jobs)


@functools.lru_cache(maxsize=32)
def _plan(size: int, params: IndicatorParams) -> _Plan:
    """The plan for ``size`` rows: a detection loop or a backfill asks for a few sizes."""
    return _Plan(size, params)


@functools.lru_cache(maxsize=32)
def null_prefix(size: int, params: IndicatorParams) -> np.ndarray:
    """Flat indices, into a block of :func:`compute_small`, of the rows before each
    column's lookback."""
    lookbacks = params.lookbacks
    parts = [
        row * size + np.arange(min(lookbacks[name], size))
        for row, name in enumerate(params.columns)
    ]
    index = np.concatenate(parts) if parts else np.empty(0, dtype=np.intp)
    index.setflags(write=False)
    return index


def compute_small(
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
    params: IndicatorParams,
) -> np.ndarray:
    """Every indicator of ``params.columns`` as the rows of one float64 block (one more
    row of scratch at the end); rows before a column's lookback hold garbage, as in
    :func:`.batch.compute_arrays`. The inputs must be valid, below ``MAX_INPUT``."""
    size = len(close)
    plan = _plan(size, params)
    block = np.empty((plan.scratch + 1, size))
    source = _sources(high, low, close, volume, plan)
    jobs = plan.jobs
    results = np.empty((len(jobs), plan.length + 1))
    if jobs:
        seeds = np.cumsum(source[plan.seeds], axis=1)  # TA-Lib's running sums, in row order
        initials = np.divide(seeds[:, -1], plan.divisors, out=results[:, 0])
        scan_rows(source[plan.inputs], plan.coefficients, plan.gains, initials, results[:, 1:])
        block.reshape(-1)[plan.targets] = results.reshape(-1)[plan.sources]
    rows = plan.rows
    obv = plan.offsets["obv"]
    block[rows["obv"]] = source[obv : obv + size]
    # Stage 2: MACD's signal and the ADX, recurrences of stage 1's results, in one scan.
    second = _Second()
    if plan.macd:
        finish_macd = _macd_signal(block, rows, params, second)
    if plan.adx:
        adx = block[rows[f"adx_{params.adx_period}"]]
        net, total = (results[row, 1 : size - params.adx_period + 1] for row in plan.adx_rows)
        ranges = source[plan.offsets["ranges"] : plan.offsets["ranges"] + size - 1]
        finish_adx = _adx(net, total, ranges, params.adx_period, adx, second)
    second.run()
    if plan.macd:
        finish_macd()
    if plan.adx:
        finish_adx()
        # A DX of 1 throughout smooths to 100 plus rounding: the ADX stays within 0..100.
        settled = adx[2 * params.adx_period - 1 :]
        np.minimum(settled, 100.0, out=settled)
    if plan.rsi:
        rsi = block[rows[f"rsi_{params.rsi_period}"]]
        formulas.rsi_from_averages(rsi, block[plan.scratch], params.rsi_period)
    _bollinger(close, params, block, rows)
    return block


def _sources(high, low, close, volume, plan: _Plan) -> np.ndarray:
    """The source series of stage 1 side by side in one array, as :mod:`.formulas` forms
    them, and a trailing zero."""
    size = plan.size
    source = np.empty(plan.source_size)
    source[-1] = 0.0
    closes, change, gains, ranges, rise, move, obv = (source[span] for span in plan.spans)
    closes[:] = close
    if size < 2:
        obv[:] = volume
        return source
    np.subtract(close[1:], close[:-1], out=change)
    np.maximum(change, 0.0, out=gains)
    np.maximum(high[1:], close[:-1], out=ranges)
    ranges -= np.minimum(low[1:], close[:-1], out=rise)
    # ADX's moves as formulas.adx forms them: rise becomes net_move, move total_move.
    np.subtract(high[1:], high[:-1], out=rise)
    fall = np.subtract(low[:-1], low[1:])
    np.maximum(rise, fall, out=move)
    np.maximum(move, 0.0, out=move)
    np.subtract(rise, fall, out=fall)
    np.sign(fall, out=rise)
    rise *= move  # +DM - -DM
    np.abs(rise, out=move)  # +DM + -DM
    formulas.obv(change, volume, obv)
    return source


class _Second:
    """Stage 2's recurrences (at most two rows), queued and run as one :func:`scan_rows`."""

    __slots__ = ("_rows",)

    def __init__(self) -> None:
        self._rows: list[tuple] = []

    def add(self, inputs, coefficient, gain, initial, out) -> None:
        """Queue ``out = scan(inputs)`` (``inputs`` is only read)."""
        self._rows.append((inputs, coefficient, gain, initial, out))

    def run(self) -> None:
        if not self._rows:
            return
        length = max(len(row[0]) for row in self._rows)
        inputs = np.zeros((len(self._rows), length))
        for index, row in enumerate(self._rows):
            inputs[index, : len(row[0])] = row[0]
        results = np.empty_like(inputs)
        scan_rows(
            inputs,
            tuple(row[1] for row in self._rows),
            tuple(row[2] for row in self._rows),
            np.array([row[3] for row in self._rows]),
            results,
        )
        for index, row in enumerate(self._rows):
            row[4][:] = results[index, : len(row[0])]


def _macd_signal(block, rows: dict[str, int], params: IndicatorParams, second: _Second):
    """MACD's line, its signal queued on ``second``, and what computes the histogram after:
    stage 1 left the fast EMA in the line's row and the slow one in the histogram's (as
    :func:`.formulas.macd`)."""
    smooth = params.macd_signal
    start = params.macd_slow - 1
    first = start + smooth - 1
    line, signal, histogram = (block[rows[n]] for n in ("macd_line", "signal_line", "histogram"))
    line[start:] -= histogram[start:]
    seed = formulas.sma_seed(line[start : first + 1], smooth)
    signal[first] = seed
    k = 2.0 / (smooth + 1)
    second.add(line[first + 1 :], 1.0 - k, k, seed, signal[first + 1 :])

    def finish() -> None:
        np.subtract(line[first:], signal[first:], out=histogram[first:])

    return finish


def _adx(net, total, ranges, period: int, out: np.ndarray, second: _Second):
    """The DX from the directional sums, the ADX recurrence queued on ``second``, and what
    finishes the ADX after it, as the end of :func:`.formulas.adx`."""
    size = len(out)
    flat_rows = 0 if ranges[0] > 0 else int(np.argmax(ranges > 0)) if ranges.any() else size
    dx = np.abs(net, out=net)
    defined = None
    if flat_rows < period and total.min() > 0:
        dx /= total
    else:
        defined = total > 0
        defined[: max(flat_rows + 1 - period, 0)] = False
        np.divide(dx, total, out=dx, where=defined)
        dx[~defined] = 0.0
    np.minimum(dx, 1.0, out=dx)
    first = 2 * period - 1
    seed = formulas.sma_seed(dx[:period], period) * 100.0
    out[first] = seed
    decay, gain = (period - 1) / period, 100.0 / period
    tail = dx[period:]
    if defined is None or defined[period:].all():
        second.add(tail, decay, gain, seed, out[first + 1 :])
        return lambda: None
    # An undefined DX holds the ADX: the recurrence runs over the defined rows only, and
    # each result is carried forward over the undefined rows after it.
    kept = defined[period:]
    smoothed = np.empty(int(kept.sum()) + 1)
    smoothed[0] = seed
    second.add(tail[kept], decay, gain, seed, smoothed[1:])

    def finish() -> None:
        out[first + 1 :] = smoothed[np.cumsum(kept)]

    return finish


def _bollinger(
    close: np.ndarray, params: IndicatorParams, block: np.ndarray, rows: dict[str, int]
) -> None:
    """Bollinger Bands as :func:`.formulas.bollinger`, sigma two-pass over every window.

    The deviations are taken from the window's mean as summed (one pass fewer than
    :func:`.formulas.exact_moments`, which centres on the first close first). That mean is
    off the exact one by a few units in the last place of the price, which adds its square
    to the sum of squares: nothing unless sigma is below ``QUIET_SIGMA`` of the price, and
    those windows (flat ones among them, which must give exactly 0) are recomputed with
    :func:`.formulas.exact_moments`."""
    period, size = params.bb_period, len(close)
    bands = tuple(block[rows[name]] for name in ("bb_upper", "bb_middle", "bb_lower", "bb_width"))
    count = size - period + 1
    if count < 1 or period == 1 or count * period > TWO_PASS_CELLS:
        formulas.bollinger(close, params, *bands, workspace(size))
        return
    upper, middle, lower, width = (band[period - 1 :] for band in bands)
    step = close.strides[0]
    windows = np.lib.stride_tricks.as_strided(close, (count, period), (step, step), writeable=False)
    np.einsum("ij->i", windows, out=middle)
    middle /= period
    deviations = windows - middle[:, None]
    squares = np.einsum("ij,ij->i", deviations, deviations)
    bound = np.multiply(middle, QUIET_SIGMA)
    bound *= bound
    bound *= period
    quiet = np.less_equal(squares, bound)
    if quiet.any():
        rows = np.flatnonzero(quiet)
        offsets, squares[rows] = formulas.exact_moments(windows[rows])
        middle[rows] = close[rows] + offsets
    squares *= params.bb_stddev**2 / period
    spread = np.sqrt(squares, out=squares)
    np.add(middle, spread, out=upper)
    np.subtract(middle, spread, out=lower)
    np.subtract(upper, lower, out=width)
    if middle.min() > 0:
        width /= middle
    else:
        np.divide(width, middle, out=width, where=middle > 0)
