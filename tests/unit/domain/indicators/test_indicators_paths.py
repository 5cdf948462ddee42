"""compute() takes one of two paths by length (short series: Bollinger two-pass over every
window, columns made null by their NaN; long series: Bollinger by restarted running sums,
columns sharing the arrays, on two threads above ``PARALLEL_ROWS``). The caller cannot
tell which: the same columns, nulls in the same rows, values equal to float noise, and
the thread split changes nothing at all."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from indicator_cases import allowance, as_array, mismatches, walk

from qwentrade.domain.indicators import IndicatorParams, batch, compute, formulas

OTHER = IndicatorParams(ema_periods=(1, 2, 200), rsi_period=1, adx_period=1, bb_period=1)


def long_path(candles: pl.DataFrame, params: IndicatorParams | None, monkeypatch) -> pl.DataFrame:
    with monkeypatch.context() as patch:
        patch.setattr(batch, "SMALL_ROWS", -1)
        return compute(candles, params)


@pytest.mark.parametrize("params", [None, OTHER], ids=["15m defaults", "periods of 1 and 2"])
@pytest.mark.parametrize("size", [0, 1, 2, 30, 600, batch.SMALL_ROWS])
def test_short_and_long_paths_agree(size, params, monkeypatch):
    candles = walk(np.random.default_rng(size), max(size, 2), 65_000.0).head(size)
    short, long = compute(candles, params), long_path(candles, params, monkeypatch)
    assert short.columns == long.columns and short.schema == long.schema
    assert short.height == size
    for name in (params or IndicatorParams()).columns if size else ():
        # 1e-12 relative, with the TA-Lib suite's absolute allowances (MACD near zero...)
        problem = mismatches(
            as_array(short[name]), as_array(long[name]), allowance(name, candles), 1e-12
        )
        assert problem is None, f"{name}: {problem}"


def test_columns_without_polars_fast_constructor_are_the_same(monkeypatch):
    candles = walk(np.random.default_rng(3), 300, 1800.0)
    fast = compute(candles)
    monkeypatch.setattr(batch, "_float_series_fast", None)
    assert compute(candles).equals(fast)


def test_existing_indicator_columns_are_replaced_in_place():
    candles = walk(np.random.default_rng(4), 200, 30.0)
    once = compute(candles)
    again = compute(once.with_columns(pl.lit(1.0).alias("ema_9")))
    assert again.columns == once.columns and again.equals(once)


def test_huge_values_get_their_nulls_by_lookback_and_stay_finite():
    close = np.full(400, 3e150) * np.exp(np.linspace(0.0, 0.1, 400))
    candles = walk(np.random.default_rng(5), 400, 1.0).with_columns(
        close=pl.Series(close),
        open=pl.Series(close),
        high=pl.Series(close * 1.01),
        low=pl.Series(close * 0.99),
    )
    assert float(candles["high"].max()) >= batch.MAX_INPUT
    result = compute(candles)
    for name, lookback in IndicatorParams().lookbacks.items():
        assert result[name].null_count() == lookback, name
        if name not in ("obv", "obv_ema_9"):
            assert np.isfinite(as_array(result[name].drop_nulls())).all(), name


def test_two_threads_or_one_give_the_same_bits():
    candles = walk(np.random.default_rng(6), 5000, 250.0)
    arrays = batch.candle_arrays(candles)
    params = IndicatorParams()
    saved = batch.PARALLEL_ROWS
    try:
        batch.PARALLEL_ROWS = 1
        one = batch.compute_arrays(*arrays, params, threads=1)
        two = batch.compute_arrays(*arrays, params, threads=2)
    finally:
        batch.PARALLEL_ROWS = saved
    for name, lookback in params.lookbacks.items():  # rows before it are garbage
        assert one[name][lookback:].tobytes() == two[name][lookback:].tobytes(), name


def test_slicing_long_series_for_the_cache_changes_nothing_beyond_rounding(monkeypatch):
    # Tiny slices: the Bollinger work crosses many slice boundaries on a series of a few
    # thousand rows.
    candles = walk(np.random.default_rng(8), 3000, 4.2e4)
    whole = long_path(candles, None, monkeypatch)
    monkeypatch.setattr(formulas, "BOLLINGER_SLICE", 128)
    sliced = long_path(candles, None, monkeypatch)
    for name in IndicatorParams().columns:
        problem = mismatches(
            as_array(sliced[name]), as_array(whole[name]), allowance(name, candles), 1e-12
        )
        assert problem is None, f"{name}: {problem}"
