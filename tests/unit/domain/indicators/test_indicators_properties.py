"""Properties of the indicators on any valid candle series (hypothesis): batch equals
incremental, a resumed state equals an unbroken one, the oscillators stay in range, the
bands stay ordered, and a later candle never changes an earlier value.

"Equal" is the rule of ``indicator_cases``: 1e-9 relative, nulls in the same rows, and
the absolute allowances for values that are differences of large ones. Batch values are
not bit-for-bit the same when more rows follow (a longer series may take the long-series
path, whose Bollinger sums round differently), so the no-look-ahead property is held to
1e-12 relative.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from indicator_cases import (
    allowance,
    as_array,
    both_paths,  # noqa: F401 (autouse: each test on both paths)
    frame,
    mismatches,
)

from qwentrade.domain.indicators import IncrementalIndicators, IndicatorParams, compute

PRICES = [2e-5, 0.35, 7.0, 1800.0, 65_000.0, 4e8]
VOLUMES = [0.0, 0.0, 0.5, 3.0, 250.0, 1e6]
FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def candle_series(draw: st.DrawFn, min_size: int = 1, max_size: int = 300) -> pl.DataFrame:
    """Random walks in ticks at any price level, with flat candles, zero volumes, gaps and
    equal moves (ties) all likely."""
    size = draw(st.integers(min_size, max_size))
    price = draw(st.sampled_from(PRICES))
    tick = draw(st.sampled_from([1e-4, 1e-3, 1e-2]))
    moves = np.array(draw(st.lists(st.integers(-8, 8) | st.just(0), min_size=size, max_size=size)))
    close = price * np.exp(np.cumsum(moves * tick))
    open_ = np.concatenate([[price], close[:-1]])
    wicks = np.array(
        draw(
            st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=size, max_size=size)
        )
    ).reshape(size, 2)
    high = np.maximum(open_, close) * (1 + wicks[:, 0] * tick)
    low = np.minimum(open_, close) * (1 - wicks[:, 1] * tick)
    # Sometimes the series starts inside a fixed high/low band: ranges without any
    # directional movement (an undefined DX that holds the ADX).
    band = draw(st.sampled_from([0, 0, 0, 5, 30, 80]))
    if band:
        high[:band], low[:band] = high[:band].max(), low[:band].min()
    volume = np.array(draw(st.lists(st.sampled_from(VOLUMES), min_size=size, max_size=size)))
    return frame(close, high, low, volume, open_)


@st.composite
def indicator_params(draw: st.DrawFn) -> IndicatorParams:
    """Periods from 1 up (TA-Lib refuses some of the 1s; these must still be consistent)."""
    slow = draw(st.integers(2, 30))
    return IndicatorParams(
        ema_periods=tuple(draw(st.sets(st.integers(1, 60), min_size=1, max_size=3))),
        rsi_period=draw(st.integers(1, 20)),
        macd_fast=draw(st.integers(1, slow - 1)),
        macd_slow=slow,
        macd_signal=draw(st.integers(1, 12)),
        bb_period=draw(st.integers(1, 25)),
        bb_stddev=draw(st.sampled_from([0.5, 1.0, 2.0, 2.5])),
        atr_period=draw(st.integers(1, 20)),
        obv_ema_period=draw(st.integers(1, 15)),
        adx_period=draw(st.integers(1, 15)),
    )


def batch(candles: pl.DataFrame, params: IndicatorParams) -> dict[str, np.ndarray]:
    result = compute(candles, params)
    return {name: as_array(result[name]) for name in params.columns}


def replay(state: IncrementalIndicators, candles: pl.DataFrame) -> dict[str, np.ndarray]:
    rows = [state.update(row) for row in candles.iter_rows(named=True)]
    return {name: as_array([row[name] for row in rows]) for name in state.params.columns}


def assert_same(
    ours: dict[str, np.ndarray],
    other: dict[str, np.ndarray],
    candles: pl.DataFrame,
    relative: float = 1e-9,
) -> None:
    problems = {
        name: problem
        for name in ours
        if (problem := mismatches(ours[name], other[name], allowance(name, candles), relative))
    }
    assert not problems, problems


@FAST
@given(candle_series(), indicator_params())
def test_batch_equals_incremental(candles: pl.DataFrame, params: IndicatorParams) -> None:
    assert_same(replay(IncrementalIndicators(params), candles), batch(candles, params), candles)


@FAST
@given(candle_series(min_size=2), st.data())
def test_resuming_from_a_batch_result_equals_the_unbroken_series(
    candles: pl.DataFrame, data: st.DataObject
) -> None:
    split = data.draw(st.integers(1, candles.height - 1))
    state = IncrementalIndicators.from_batch(compute(candles.head(split)))
    resumed = replay(state, candles.slice(split))
    unbroken = {name: values[split:] for name, values in batch(candles, IndicatorParams()).items()}
    assert_same(resumed, unbroken, candles)


@FAST
@given(candle_series(), indicator_params())
def test_oscillators_stay_in_range_and_bands_stay_ordered(
    candles: pl.DataFrame, params: IndicatorParams
) -> None:
    for values in (batch(candles, params), replay(IncrementalIndicators(params), candles)):
        for name in (f"rsi_{params.rsi_period}", f"adx_{params.adx_period}"):
            present = values[name][~np.isnan(values[name])]
            assert ((present >= 0.0) & (present <= 100.0)).all(), (
                name,
                present.min(),
                present.max(),
            )
        lower, middle, upper = values["bb_lower"], values["bb_middle"], values["bb_upper"]
        present = ~np.isnan(middle)
        assert (lower[present] <= middle[present]).all()
        assert (middle[present] <= upper[present]).all()
        assert (values["bb_width"][present] >= 0.0).all()
        for name, column in values.items():
            assert np.isfinite(column[~np.isnan(column)]).all(), name


@FAST
@given(candle_series(min_size=2), st.data())
def test_a_later_candle_never_changes_an_earlier_value(
    candles: pl.DataFrame, data: st.DataObject
) -> None:
    cut = data.draw(st.integers(1, candles.height - 1))
    shorter = batch(candles.head(cut), IndicatorParams())
    longer = {name: values[:cut] for name, values in batch(candles, IndicatorParams()).items()}
    assert_same(shorter, longer, candles, relative=1e-12)
