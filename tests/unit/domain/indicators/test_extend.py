"""Extending a stored series from a bounded tail equals recomputing the whole history.

Real OKX 15m candles (BTC and ETH, 2022-11-20 to 2022-12-20, 2,976 rows each, with the
flat zero-volume maintenance stretch of 2022-12-18): for many split points and batch
sizes k, the indicators of the k new candles computed by ``extend`` from the last
``warmup`` stored rows equal ``compute`` over the whole history to 1e-9 relative, for
every indicator, with nulls in the same places.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from indicator_cases import allowance, as_array, mismatches

from qwentrade.domain.indicators import IndicatorParams, compute
from qwentrade.domain.indicators.extend import NeedHistory, extend

DATA = Path(__file__).resolve().parents[3] / "data" / "candles"
FILES = sorted(DATA.glob("okx_*_15m_*.csv"))


def real(path: Path) -> pl.DataFrame:
    return pl.read_csv(path).select(
        pl.from_epoch("ts_ms", time_unit="ms").dt.replace_time_zone("UTC").alias("time"),
        *(pl.col(name).cast(pl.Float64) for name in ("open", "high", "low", "close", "volume")),
    )


def assert_close(got: pl.DataFrame, want: pl.DataFrame, columns) -> None:
    """1e-9 relative, or the TA-Lib suite's absolute allowance for columns that are
    differences of price-scale values (MACD) or cross zero (OBV): nulls alike."""
    assert got["time"].to_list() == want["time"].to_list()
    for name in columns:
        problem = mismatches(as_array(got[name]), as_array(want[name]), allowance(name, want))
        assert problem is None, f"{name}: {problem}"


@pytest.fixture(scope="module", params=FILES, ids=lambda p: p.name.split("_")[1])
def history(request) -> pl.DataFrame:
    return real(request.param)


@pytest.mark.parametrize("split", [700, 1500, 2400, 2900])
@pytest.mark.parametrize("k", [1, 7, 76])
def test_extending_by_k_candles_equals_a_whole_recompute(history, split, k):
    params = IndicatorParams()
    full = compute(history, params)
    stored = full.head(split)
    new = history.slice(split, k)
    rows = extend(stored.tail(params.warmup), new, stored.clear(), params)
    assert rows.height == k
    assert_close(rows, full.slice(split, k), params.columns)


def test_a_candle_landing_before_stored_ones_recomputes_from_there_on(history):
    params = IndicatorParams()
    full = compute(history, params)
    # candles 1600..1700 are missing; everything after them is stored with stale values
    before = full.slice(1600 - params.warmup, params.warmup)
    after = full.slice(1700).with_columns(pl.lit(0.0).alias("ema_55"), pl.lit(1.0).alias("obv"))
    rows = extend(before, history.slice(1600, 100), after, params)
    assert_close(rows, full.slice(1600), params.columns)


def test_a_short_history_is_recomputed_whole_and_exactly(history):
    params = IndicatorParams()
    full = compute(history, params)
    rows = extend(full.head(100), history.slice(100, 50), full.clear(), params)
    assert_close(rows, full.slice(100, 50), params.columns)


def test_a_tail_that_cannot_seed_the_states_asks_for_the_whole_history(history):
    params = IndicatorParams()
    full = compute(history, params)
    broken = full.slice(1000, params.warmup).with_columns(pl.lit(None).alias("adx_14"))
    with pytest.raises(NeedHistory):
        extend(broken, history.slice(1000 + params.warmup, 5), full.clear(), params)


@settings(max_examples=25, deadline=None)
@given(split=st.integers(650, 2970), k=st.integers(1, 6), four_hour=st.booleans())
def test_any_split_and_batch_size(split, k, four_hour):
    frame = real(FILES[0])
    params = IndicatorParams(rsi_period=14) if four_hour else IndicatorParams()
    full = compute(frame, params)
    k = min(k, frame.height - split)
    rows = extend(full.head(split).tail(params.warmup), frame.slice(split, k), full.clear(), params)
    assert_close(rows, full.slice(split, k), params.columns)
