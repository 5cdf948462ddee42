"""The kline jobs: exact backfill, no refetch, confirmed candles only, detection once per close."""

from __future__ import annotations

import math
from datetime import timedelta

import polars as pl
from sync_world import NOW, START, SYMBOLS, make_world

from qwentrade.domain.indicators import compute
from qwentrade.domain.market import Timeframe
from qwentrade.domain.series import closed_span

PAGE = 300


def expected_rows(timeframe: Timeframe, days: int, now=NOW) -> int:
    span = closed_span(timeframe, now - timedelta(days=days), now)
    return (span.end - span.start) // timeframe.duration


def test_a_backfill_from_empty_is_exact_and_a_second_start_fetches_nothing():
    world = make_world()
    first = world.engine().run_once()
    assert {r.state for r in first} == {"OK"}
    for symbol in SYMBOLS:
        for timeframe, days in ((Timeframe.M15, 3), (Timeframe.H4, 12), (Timeframe.D1, 20)):
            stored = world.repos.klines.range(symbol, timeframe)
            rows = expected_rows(timeframe, days)
            assert stored.height == rows, (symbol, timeframe)
            assert stored["time"].is_unique().all()
            assert world.venue.calls[(symbol, timeframe.label)] <= math.ceil(rows / PAGE)
    stored = world.repos.klines.range(SYMBOLS[0], Timeframe.M15)
    recomputed = compute(stored.select("time", "open", "high", "low", "close", "volume"))
    assert stored["ema_55"].to_list() == recomputed["ema_55"].to_list()
    calls = sum(world.venue.calls.values())
    again = world.engine().run_once()  # a restart: a new engine over the same database
    assert sum(r.rows for r in again) == 0
    assert sum(world.venue.calls.values()) == calls  # not one history request


def test_time_moving_on_fetches_only_the_new_closes_with_one_request():
    world = make_world()
    engine = world.engine()
    engine.run_once(kinds=["klines_15m"])
    world.clock.advance(timedelta(minutes=45))
    before = world.venue.calls[(SYMBOLS[0], "15m")]
    [result] = engine.run_once(kinds=["klines_15m"], symbols=[SYMBOLS[0]])
    assert result.rows == 3
    assert world.venue.calls[(SYMBOLS[0], "15m")] == before + 1


def test_an_unconfirmed_candle_is_never_stored_as_final():
    world = make_world()
    world.venue.unconfirmed_newest = True  # the venue has not confirmed the last close yet
    world.engine().run_once(kinds=["klines_15m"], symbols=[SYMBOLS[0]])
    stored = world.repos.klines.range(SYMBOLS[0], Timeframe.M15)
    last_close = Timeframe.M15.floor(NOW) - Timeframe.M15.duration
    assert stored["time"].max() < last_close  # the held-back close is not stored
    world.venue.unconfirmed_newest = False
    world.engine().run_once(kinds=["klines_15m"], symbols=[SYMBOLS[0]])
    assert world.repos.klines.latest_time(SYMBOLS[0], Timeframe.M15) == last_close
    # the forming candle (open at floor(now)) is never stored either
    assert (
        world.repos.klines.range(SYMBOLS[0], Timeframe.M15, start=Timeframe.M15.floor(NOW)).height
        == 0
    )


def judged_closes(world, symbol):
    return sorted(at for (s, at), n in world.detection.judged.items() if s == symbol)


def test_the_detector_runs_exactly_once_per_15m_close_across_runs_and_restarts():
    world = make_world()
    engine = world.engine()
    engine.run_once()
    expiry = timedelta(hours=4)
    step = Timeframe.M15.duration
    # after the backfill: only closes whose signal would still be active now are judged
    first = judged_closes(world, SYMBOLS[0])
    assert first and all(close + expiry > NOW for close in first)
    assert len(first) == expiry // step
    for _ in range(6):
        world.clock.advance(timedelta(minutes=10))
        engine.run_once(kinds=["klines_15m"])
        world.engine().run_once(kinds=["klines_15m"])  # a second process / a restart
    assert all(n == 1 for n in world.detection.judged.values())
    closes = judged_closes(world, SYMBOLS[0])
    stored = world.repos.klines.range(SYMBOLS[0], Timeframe.M15)
    newest_close = stored["time"].max() + step
    assert closes[-1] == newest_close
    assert closes == [first[0] + i * step for i in range(len(closes))]  # no close skipped


def test_signals_reach_subscribers_and_a_failing_subscriber_breaks_nothing():
    world = make_world(days=(3, 12, 20))
    world.repos.config.set("DETECTOR_SIGNAL_EXPIRE_HOURS", 36)  # judge 36 h of closes
    world.repos.config.set("DETECTOR_SIGNAL_THRESHOLD", 10)
    seen = []

    def broken(signal):
        raise RuntimeError("subscriber bug")

    engine = world.engine(on_signal=broken)
    engine.subscribe(seen.append)
    results = engine.run_once(kinds=["klines_15m", "klines_4h"], symbols=[SYMBOLS[0]])
    assert {r.state for r in results} == {"OK"}
    stored = world.repos.signals.find(limit=None)
    assert stored and sorted(s.id for s in seen) == sorted(s.id for s in stored)


def test_signals_past_their_expiry_are_marked_expired():
    world = make_world(days=(5, 12, 20))
    world.repos.config.set("DETECTOR_SIGNAL_THRESHOLD", 10)
    engine = world.engine()
    engine.run_once()
    active = world.repos.signals.active(world.clock.now())
    assert active, "the generated market should fire at threshold 10"
    world.clock.advance(timedelta(hours=5))
    engine.run_once(kinds=["klines_15m"])
    ids = {s.id for s in active}
    assert all(s.status == "EXPIRED" for s in world.repos.signals.find(limit=None) if s.id in ids)


def test_a_gap_in_a_stored_series_is_fetched_exactly():
    world = make_world()
    engine = world.engine()
    engine.run_once(kinds=["klines_15m"], symbols=[SYMBOLS[0]])
    full = world.repos.klines.range(SYMBOLS[0], Timeframe.M15)
    holes = full["time"][40:52].to_list()
    kept = full.filter(~pl.col("time").is_in(holes))
    fresh = make_world()
    fresh.repos.klines.upsert(Timeframe.M15, kept, symbol=SYMBOLS[0])
    [result] = fresh.engine().run_once(kinds=["klines_15m"], symbols=[SYMBOLS[0]])
    # the holes are fetched; every later row is rewritten with recomputed indicators
    assert result.rows == full.filter(pl.col("time") >= holes[0]).height
    assert fresh.venue.calls[(SYMBOLS[0], "15m")] == 1
    healed = fresh.repos.klines.range(SYMBOLS[0], Timeframe.M15)
    assert healed.equals(full)


def test_a_window_reaching_before_the_venues_history_asks_for_it_once_per_process():
    world = make_world(symbols=SYMBOLS[:1], days=(100, 12, 20))  # the market began 59 days ago
    engine = world.engine()
    engine.run_once(kinds=["klines_15m"])
    stored = world.repos.klines.range(SYMBOLS[0], Timeframe.M15)
    assert stored["time"].min() == START  # everything the venue has
    first = world.venue.calls[(SYMBOLS[0], "15m")]
    assert first <= math.ceil(100 * 96 / PAGE)
    world.clock.advance(timedelta(minutes=15))
    engine.run_once(kinds=["klines_15m"])
    assert world.venue.calls[(SYMBOLS[0], "15m")] == first + 1  # the new close only
    assert world.repos.klines.range(SYMBOLS[0], Timeframe.M15).height == stored.height + 1


def test_a_longer_window_set_while_running_is_filled_at_the_next_run():
    world = make_world(symbols=SYMBOLS[:1])
    engine = world.engine()
    engine.run_once(kinds=["klines_15m"])
    assert world.repos.klines.range(SYMBOLS[0], Timeframe.M15).height == 3 * 96 - 1
    world.repos.config.set("KLINE_15M_START_DAYS", 10)  # read live, no restart
    engine.run_once(kinds=["klines_15m"])
    assert world.repos.klines.range(SYMBOLS[0], Timeframe.M15).height == 10 * 96 - 1


def test_detection_goes_on_when_only_the_4h_source_fails():
    world = make_world(symbols=SYMBOLS[:1])
    engine = world.engine()
    engine.run_once()
    real = world.venue.candles

    def no_4h(symbol, timeframe, span=None, limit=100):
        if timeframe is Timeframe.H4:
            raise RuntimeError("4H bars refused")
        return real(symbol, timeframe, span, limit)

    world.venue.candles = no_4h
    world.clock.advance(timedelta(hours=4))  # a 4h candle closed: the 4h fetch fails
    results = {r.job_id: r for r in engine.run_once()}
    assert results[f"klines_15m:{SYMBOLS[0]}"].state == "OK"
    assert results[f"klines_4h:{SYMBOLS[0]}"].state == "FAILING"
    close = Timeframe.M15.floor(world.clock.now())
    assert world.detection.judged[(SYMBOLS[0], close)] == 1
