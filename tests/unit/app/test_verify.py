"""SeriesVerifier: finds gaps, duplicates and wrong indicator cells, and repairs them."""

from __future__ import annotations

from datetime import UTC, datetime

import polars as pl
import pytest

from qwentrade.adapters.memory import MemoryKlineRepository
from qwentrade.adapters.sim import GeneratedPath, SimEngine, SimExchange, SteppedClock
from qwentrade.app.backfill import KlineBackfill
from qwentrade.app.verify import SeriesVerifier
from qwentrade.domain.indicators import IndicatorParams
from qwentrade.domain.indicators.verify import wrong_cells
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS
from qwentrade.domain.market import Timeframe

SYMBOL = "BTC-USDT-SWAP"
NOW = datetime(2025, 3, 1, 0, 7, tzinfo=UTC)


@pytest.fixture
def setup():
    clock = SteppedClock(NOW)
    path = GeneratedPath((SYMBOL,), seed=7, start=datetime(2025, 1, 1, tzinfo=UTC))
    exchange = SimExchange(SimEngine([DEFAULT_INSTRUMENTS[SYMBOL]], clock=clock, price_path=path))
    klines = MemoryKlineRepository()
    backfill = KlineBackfill(exchange, klines, clock)
    backfill.run(SYMBOL, Timeframe.M15, days=10)
    backfill.run(SYMBOL, Timeframe.H4, days=40)
    return klines, SeriesVerifier(klines, backfill, clock)


def test_sound_series_are_reported_sound(setup):
    _klines, verifier = setup
    assert verifier.series() == [(SYMBOL, Timeframe.M15), (SYMBOL, Timeframe.H4)]
    for symbol, timeframe in verifier.series():
        check = verifier.check(symbol, timeframe)
        assert check.sound and check.rows > 0, check


def test_gaps_and_wrong_cells_are_found_and_repaired(setup):
    klines, verifier = setup
    full = klines.range(SYMBOL, Timeframe.M15)
    hole = (pl.col("time") >= full["time"][300]) & (pl.col("time") < full["time"][340])
    damaged = full.filter(~hole).with_columns(
        pl.when(pl.int_range(pl.len()) == 100)
        .then(pl.lit(1.0))
        .otherwise(pl.col("ema_21"))
        .alias("ema_21"),  # one cell corrupted by hand
        pl.when(pl.int_range(pl.len()).is_between(200, 250))
        .then(pl.lit(None, dtype=pl.Float64))
        .otherwise(pl.col("obv"))
        .alias("obv"),  # OBV lost for a while
    )
    fresh = MemoryKlineRepository()
    fresh.upsert(Timeframe.M15, damaged, symbol=SYMBOL)
    clock = SteppedClock(NOW)
    path = GeneratedPath((SYMBOL,), seed=7, start=datetime(2025, 1, 1, tzinfo=UTC))
    exchange = SimExchange(SimEngine([DEFAULT_INSTRUMENTS[SYMBOL]], clock=clock, price_path=path))
    verifier = SeriesVerifier(fresh, KlineBackfill(exchange, fresh, clock), clock)

    found = verifier.check(SYMBOL, Timeframe.M15)
    assert found.gaps == 40 and found.duplicates == 0
    # the corrupted cells, and after the hole every indicator that remembers history
    assert found.wrong_cells > 52 and found.first_wrong == full["time"][100]
    assert not found.sound

    repaired = verifier.check(SYMBOL, Timeframe.M15, repair=True)
    # the fetch recomputes from the hole on; the rewrite goes from the first wrong cell on
    assert repaired.sound and repaired.fetched == 40 and repaired.rewritten == full.height - 100
    assert repaired.rows == full.height
    healed = fresh.range(SYMBOL, Timeframe.M15)
    assert wrong_cells(healed, IndicatorParams()).is_empty()
    params = IndicatorParams()
    for name in params.columns:
        ours, want = healed[name].to_numpy(), full[name].to_numpy()
        both_null = (ours != ours) & (want != want)
        assert ((abs(ours - want) <= 1e-9 * abs(want) + 1e-6) | both_null).all(), name


def test_wrong_cells_tolerates_float_noise_only():
    from qwentrade.domain.indicators import compute
    from qwentrade.testing.builders import synthetic_candles

    frame = compute(synthetic_candles(800))
    assert wrong_cells(frame, IndicatorParams()).is_empty()
    nudged = frame.with_columns(pl.col("ema_55") * (1 + 1e-13), pl.col("rsi_7") + 1e-10)
    assert wrong_cells(nudged, IndicatorParams()).is_empty()
    off = frame.with_columns(pl.col("ema_55") * (1 + 1e-7))
    assert wrong_cells(off, IndicatorParams()).height == frame["ema_55"].drop_nulls().len()
