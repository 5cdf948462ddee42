"""Market data of the simulated exchange: paths, candles of every timeframe, no peeking."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sim_helpers import BTC, START, D, at, engine, flat

from qwentrade.adapters.sim import (
    AcceleratedClock,
    GeneratedPath,
    ReplayPath,
    SimEngine,
    SteppedClock,
)
from qwentrade.adapters.sim.tape import waypoints
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS
from qwentrade.domain.market import Timeframe, TimeRange

DATA = Path(__file__).parents[3] / "data" / "candles_replay"
REPLAY_CSV = DATA / "okx_BTC-USDT-SWAP_15m.csv"
FUNDING_CSV = DATA / "okx_BTC-USDT-SWAP_funding_rate.csv"
REPLAY_START = datetime(2024, 8, 20, 16, tzinfo=UTC)


def test_waypoints_follow_the_documented_conservative_order():
    assert waypoints(100, 110, 90, 105) == (100, 90, 110, 105)  # green: low first
    assert waypoints(100, 110, 90, 95) == (100, 110, 90, 95)  # red: high first
    assert waypoints(100, 110, 90, 100) == (100, 90, 110, 100)  # doji counts as green


def test_generated_path_is_deterministic_lazy_and_at_realistic_levels():
    a = GeneratedPath(seed=7, start=START)
    b = GeneratedPath(seed=7, start=START)
    other = GeneratedPath(seed=8, start=START)
    one_day = a.series(BTC, START + timedelta(hours=1))
    assert len(one_day) == 96  # generated a day at a time, not up front
    later = a.series(BTC, START + timedelta(days=10))
    assert len(later) == 96 * 11
    assert b.series(BTC, START + timedelta(days=10)).close.tolist() == later.close.tolist()
    assert other.series(BTC, START).close.tolist() != one_day.close.tolist()
    for symbol, level in (
        ("BTC-USDT-SWAP", 60000),
        ("ETH-USDT-SWAP", 3000),
        ("SOL-USDT-SWAP", 150),
    ):
        first = a.series(symbol, START).open[0]
        assert first == level
    closes = later.close
    assert (later.high >= later.open).all() and (later.high >= closes).all()
    assert (later.low <= later.open).all() and (later.low <= closes).all()
    assert closes.min() > 0.5 * 60000 and closes.max() < 2 * 60000


def test_generated_path_has_volume_spikes_and_moving_regimes():
    path = GeneratedPath(seed=3, start=START)
    series = path.series(BTC, START + timedelta(days=30))
    volume = series.volume
    assert volume.max() > 4 * float(sorted(volume)[len(volume) // 2])
    day_changes = [series.close[i + 95] / series.open[i] - 1 for i in range(0, len(volume), 96)]
    assert max(day_changes) > 0.01 and min(day_changes) < -0.01


def test_generated_days_at_once_equal_the_days_one_by_one():
    at_once = GeneratedPath(seed=5, start=START).series(BTC, START + timedelta(days=39))
    stepped = GeneratedPath(seed=5, start=START)
    for day in range(40):
        stepped.series(BTC, START + timedelta(days=day, hours=day % 24))
    one_by_one = stepped.series(BTC, START + timedelta(days=39))
    for field in ("ts", "open", "high", "low", "close", "volume"):
        assert getattr(at_once, field).tolist() == getattr(one_by_one, field).tolist(), field
    # each day opens at the close before it
    assert (at_once.open[1:] == at_once.close[:-1]).all()


def test_seed_version_1_is_the_original_loop_to_the_bit():
    path = GeneratedPath(seed=7, start=START, seed_version=1)
    assert path.seed_version == 1 and GeneratedPath(start=START).seed_version == 2
    eth = path.series("ETH-USDT-SWAP", START + timedelta(days=2))
    # recorded from the per-candle loop before the vectorised walk existed
    assert eth.close[[0, 100, 287]].tolist() == [2985.91, 2938.91, 2813.95]
    assert eth.volume[[5, 200]].tolist() == [11587.477, 20610.683]
    assert (eth.high[150], eth.low[250]) == (2886.42, 2797.44)
    vector = GeneratedPath(seed=7, start=START).series("ETH-USDT-SWAP", START)
    assert vector.close.tolist() != eth.close[:96].tolist()
    with pytest.raises(InvalidInput, match="seed_version"):
        GeneratedPath(start=START, seed_version=3)


@pytest.mark.parametrize("seed_version", [1, 2])
def test_both_seed_versions_give_ticks_and_volumes_at_their_precision(seed_version):
    path = GeneratedPath(seed=2, start=START, seed_version=seed_version)
    for symbol in path.symbols:
        series = path.series(symbol, START + timedelta(days=5))
        digits = -DEFAULT_INSTRUMENTS[symbol].tick_sz.normalize().as_tuple().exponent
        for column in (series.open, series.high, series.low, series.close):
            assert (column.round(digits) == column).all()
        assert (series.volume.round(3) == series.volume).all() and (series.volume > 0).all()


def test_replay_reads_csv_and_parquet_alike(tmp_path):
    from_csv = ReplayPath.from_csv(REPLAY_CSV, funding={BTC: FUNDING_CSV})
    assert from_csv.symbols == (BTC,)  # the symbol comes from the file name
    assert from_csv.base is Timeframe.M15
    assert from_csv.first_time(BTC) == REPLAY_START
    parquet = tmp_path / "btc.parquet"
    pl.read_csv(REPLAY_CSV).write_parquet(parquet)
    from_parquet = ReplayPath.from_parquet({BTC: parquet})
    a, b = from_csv.series(BTC, REPLAY_START), from_parquet.series(BTC, REPLAY_START)
    assert a.close.tolist() == b.close.tolist() and len(a) == 384
    assert from_csv.funding_rate(BTC, REPLAY_START) == D("4.14245554449e-05")


def test_replay_rejects_a_file_without_the_candle_columns(tmp_path):
    bad = tmp_path / "okx_BTC-USDT-SWAP_15m.csv"
    bad.write_text("time,price\n1,2\n")
    with pytest.raises(InvalidInput) as caught:
        ReplayPath.from_csv(bad)
    assert caught.value.field == "path"


def replay_engine() -> tuple[SimEngine, SteppedClock]:
    clock = SteppedClock(REPLAY_START + timedelta(days=2, minutes=40))
    path = ReplayPath.from_csv(REPLAY_CSV, funding={BTC: FUNDING_CSV})
    return SimEngine([DEFAULT_INSTRUMENTS[BTC]], clock=clock, price_path=path), clock


def test_candles_of_every_timeframe_aggregate_the_base_candles():
    sim, _ = replay_engine()
    rows = pl.read_csv(REPLAY_CSV)
    m15 = sim.candles(BTC, Timeframe.M15, limit=300)
    h4 = sim.candles(BTC, Timeframe.H4, limit=300)
    assert [c.time for c in m15] == sorted(c.time for c in m15)
    assert m15[-1].confirmed is False and all(c.confirmed for c in m15[:-1])
    # a closed candle of the path's own timeframe is its row
    by_time = {r["ts_ms"]: r for r in rows.iter_rows(named=True)}
    for c in m15[:-1]:
        row = by_time[int(c.time.timestamp() * 1000)]
        want = (row["open"], row["high"], row["low"], row["close"], round(row["volume"], 6))
        assert (c.open, c.high, c.low, c.close, c.volume) == want
    # the 4h candle of 2024-08-21 00:00 is the aggregate of its sixteen 15m rows
    bucket = rows.filter(
        (pl.col("ts_ms") >= 1724198400000) & (pl.col("ts_ms") < 1724198400000 + 4 * 3600_000)
    )
    [candle] = [c for c in h4 if c.time == datetime(2024, 8, 21, tzinfo=UTC)]
    assert candle.open == bucket["open"][0] and candle.close == bucket["close"][-1]
    assert candle.high == bucket["high"].max() and candle.low == bucket["low"].min()
    assert candle.volume == pytest.approx(bucket["volume"].sum())
    daily = sim.candles(BTC, Timeframe.D1)
    assert [c.time.hour for c in daily] == [0] * len(daily)  # UTC-aligned


def test_the_forming_candle_reveals_only_the_path_walked_so_far():
    # a green candle: open 100, low 90 at 5 min, high 120 at 10 min, close 110
    sim, clock = engine([*flat(100000), (100000, 120000, 90000, 110000), *flat(110000)])
    clock.set(at(15 + 5))
    live = sim.candles(BTC, Timeframe.M15)[-1]
    assert not live.confirmed
    assert (live.open, live.high, live.low, live.close) == (100000, 100000, 90000, 90000)
    assert live.volume == pytest.approx(100 / 3)
    clock.set(at(15 + 10))
    live = sim.candles(BTC, Timeframe.M15)[-1]
    assert (live.high, live.low, live.close) == (120000, 90000, 120000)
    clock.set(at(30))
    closed = sim.candles(BTC, Timeframe.M15)[-2]
    assert closed.confirmed and closed.close == 110000
    # an hour candle made of one closed and one forming 15m candle is not confirmed
    assert not sim.candles(BTC, Timeframe.H1)[-1].confirmed


def test_candles_respect_span_and_limit():
    sim, _ = replay_engine()
    span = TimeRange(REPLAY_START, REPLAY_START + timedelta(hours=1))
    got = sim.candles(BTC, Timeframe.M15, span)
    assert [c.time for c in got] == [REPLAY_START + i * timedelta(minutes=15) for i in range(4)]
    assert len(sim.candles(BTC, Timeframe.M15, limit=5)) == 5
    with pytest.raises(InvalidInput):
        sim.candles(BTC, Timeframe.M15, limit=301)


@settings(deadline=None, max_examples=25)
@given(minutes=st.integers(min_value=0, max_value=60 * 24 * 3))
def test_no_candle_ever_shows_a_price_from_the_future(minutes):
    path = ReplayPath.from_csv(REPLAY_CSV)
    now = REPLAY_START + timedelta(minutes=minutes)
    clock = SteppedClock(now)
    sim = SimEngine([DEFAULT_INSTRUMENTS[BTC]], clock=clock, price_path=path)
    last = float(sim.last_price(BTC))
    for timeframe in Timeframe:
        candles = sim.candles(BTC, timeframe, limit=300)
        assert all(c.time <= now for c in candles)
        assert candles[-1].close == pytest.approx(last, abs=0.05)
        assert all(c.confirmed == (c.time + timeframe.duration <= now) for c in candles)


def test_funding_rate_history_and_order_book():
    sim, _ = replay_engine()
    rate = sim.funding_rate(BTC)
    assert rate.time == datetime(2024, 8, 23, tzinfo=UTC)  # the next settlement
    assert rate.next_funding_time == datetime(2024, 8, 23, 8, tzinfo=UTC)  # and the one after
    history = sim.funding_history(BTC, TimeRange(REPLAY_START, REPLAY_START + timedelta(days=9)))
    assert len(history) == 7  # settlements up to now only, 00/08/16 UTC
    assert history[0].realized_rate == D("4.14245554449e-05")
    assert all(h.next_funding_time == h.time + timedelta(hours=8) for h in history)
    book = sim.order_book(BTC, depth=3)
    last = sim.last_price(BTC)
    assert [p for p, _ in book.bids] == [last - D("0.1"), last - D("0.2"), last - D("0.3")]
    assert book.asks[0][0] == last + D("0.1") and all(s > 0 for _, s in book.asks)


def test_clocks():
    stepped = SteppedClock(START)
    stepped.advance(timedelta(minutes=15))
    assert stepped.now() == at(15)
    with pytest.raises(InvalidInput):
        stepped.set(START)
    ticks = iter([100.0, 100.0, 101.0])
    fast = AcceleratedClock(START, speed=900, monotonic=lambda: next(ticks))
    assert fast.now() == START
    assert fast.now() == START + timedelta(minutes=15)  # one real second = one 15m candle
    auto = SteppedClock(START, auto_advance=True)
    assert auto.wait(threading.Event(), 60) is False and auto.now() == at(1)
    stop = threading.Event()
    stop.set()
    assert SteppedClock(START).wait(stop, 3600) is True


def test_a_stepped_clock_wait_returns_when_another_thread_advances_it():
    clock = SteppedClock(START)
    done = []
    waiter = threading.Thread(target=lambda: done.append(clock.wait(threading.Event(), 60)))
    waiter.start()
    clock.advance(timedelta(minutes=1))
    waiter.join(timeout=5)
    assert done == [False]


def test_engine_refuses_a_clock_before_the_path_begins():
    with pytest.raises(InvalidInput) as caught:
        SimEngine(clock=SteppedClock(START), price_path=GeneratedPath(start=START + timedelta(1)))
    assert caught.value.field == "clock"
