"""The sync engine on its scheduler with a manual clock: start-up run, schedules, failure
isolation, outage repair, disabled jobs, status, stop."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sync_world import NOW, SYMBOLS, eventually, make_world

from qwentrade.app.sync.base import JobDisabled
from qwentrade.app.sync.specs import JobSpec, Scope
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import Timeframe
from qwentrade.domain.schedule import Every

M15 = Timeframe.M15


@pytest.fixture
def engines():
    made = []
    yield made
    for engine in made:
        engine.stop(timeout=5)


def idle(engine, clock) -> bool:
    """Nothing running and every job booked after the clock's time."""
    now = clock.now()
    return all(
        not s.running and s.next_run is not None and s.next_run > now
        for s in engine._scheduler.status()
    )


def step(engine, clock, delta: timedelta, times: int = 1) -> None:
    for _ in range(times):
        clock.advance(delta)
        eventually(lambda: idle(engine, clock))


def by_job(engine) -> dict[str, dict]:
    return {s["job"]: s for s in engine.status()}


def newest_close(world, symbol, timeframe=M15):
    return world.repos.klines.latest_time(symbol, timeframe) + timeframe.duration


def test_start_runs_every_job_once_then_each_on_its_candle_close(engines):
    world = make_world()
    engine = world.engine()
    engines.append(engine)
    engine.start()
    eventually(lambda: idle(engine, world.clock))
    status = by_job(engine)
    assert set(status) == {
        f"{k}:{s}" for k in ("klines_15m", "klines_4h", "klines_1d") for s in SYMBOLS
    }
    assert all(s["state"] == "OK" and s["runs"] == 1 for s in status.values())
    # 5 s after each close (KLINE_SYNC_DELAY): the next 15m run
    assert (
        status[f"klines_15m:{SYMBOLS[0]}"]["next_run"]
        == (M15.floor(NOW) + M15.duration + timedelta(seconds=5)).isoformat()
    )
    step(engine, world.clock, timedelta(minutes=15), times=4)
    for symbol in SYMBOLS:
        assert newest_close(world, symbol) == M15.floor(world.clock.now())
    status = by_job(engine)
    assert status[f"klines_15m:{SYMBOLS[0]}"]["runs"] == 5
    assert status[f"klines_4h:{SYMBOLS[0]}"]["runs"] == 1  # no 4h close in that hour
    lag = status[f"klines_15m:{SYMBOLS[0]}"]["lag_seconds"]
    assert 0 < lag < 15 * 60
    assert status[f"klines_15m:{SYMBOLS[0]}"]["rows_stored"] == 3 * 96 - 1 + 4
    # what another process reads from system_status: counters, the next run, the data's reach
    stored = world.repos.status.get(f"klines_15m:{SYMBOLS[0]}")
    assert (stored.value, stored.runs, stored.successes, stored.rows) == ("OK", 5, 5, 3 * 96 + 3)
    close = M15.floor(world.clock.now())
    assert stored.note == (
        f"next run {(close + M15.duration + timedelta(seconds=5)).isoformat()}; "
        f"data up to {close.isoformat()}"
    )


def test_one_symbols_failing_source_leaves_the_others_on_schedule_and_recovers(engines, caplog):
    world = make_world()
    engine = world.engine()
    engines.append(engine)
    bad, good = SYMBOLS
    world.venue.failing.add(bad)
    engine.start()
    eventually(lambda: idle(engine, world.clock))
    for _ in range(8):  # two hours of closes; the failing job retries on its backoff
        step(engine, world.clock, timedelta(minutes=15))
        assert newest_close(world, good) == M15.floor(world.clock.now())
    status = by_job(engine)
    assert status[f"klines_15m:{bad}"]["state"] == "FAILING"
    assert status[f"klines_15m:{bad}"]["consecutive_failures"] > 3
    assert "does not answer" in status[f"klines_15m:{bad}"]["last_error"]
    assert status[f"klines_15m:{good}"]["state"] == "OK"
    logged = [
        r
        for r in caplog.records
        if "klines_15m:" + bad in r.getMessage() and r.levelname == "ERROR"
    ]
    assert len(logged) == 1  # once per failure streak
    world.venue.failing.clear()
    step(engine, world.clock, timedelta(minutes=5), times=2)  # the backoff is capped at 5 min
    assert by_job(engine)[f"klines_15m:{bad}"]["state"] == "OK"
    assert newest_close(world, bad) == M15.floor(world.clock.now())


def test_a_six_hour_outage_is_repaired_when_the_source_returns(engines):
    world = make_world(symbols=SYMBOLS[:1])
    engine = world.engine()
    engines.append(engine)
    engine.start()
    eventually(lambda: idle(engine, world.clock))
    before = world.repos.klines.range(SYMBOLS[0], M15).height
    world.venue.failing.add(SYMBOLS[0])
    step(engine, world.clock, timedelta(minutes=15), times=24)  # six hours of nothing
    assert world.repos.klines.range(SYMBOLS[0], M15).height == before
    world.venue.failing.clear()
    step(engine, world.clock, timedelta(minutes=5), times=2)
    stored = world.repos.klines.range(SYMBOLS[0], M15)
    assert stored.height == before + 24 + 0  # every close of the outage, no more
    assert newest_close(world, SYMBOLS[0]) == M15.floor(world.clock.now())
    assert (
        world.repos.klines.missing_closes(
            SYMBOLS[0], M15, stored["time"].min(), stored["time"].max()
        )
        == []
    )


def test_a_disabled_job_is_reported_disabled_with_its_reason_not_failing(engines):
    world = make_world(symbols=SYMBOLS[:1])

    def no_key(target, now):
        raise JobDisabled("no CoinGlass key: set QWENTRADE_COINGLASS_API_KEY")

    spec = JobSpec("fear_greed", Scope.GLOBAL, lambda: Every(3600), no_key)
    engine = world.engine(extra_specs=[spec])
    engines.append(engine)
    engine.start()
    eventually(lambda: idle(engine, world.clock))
    status = by_job(engine)["fear_greed"]
    assert status["state"] == "DISABLED" and "QWENTRADE_COINGLASS_API_KEY" in status["note"]
    assert status["consecutive_failures"] == 0
    stored = world.repos.status.get("fear_greed")
    assert stored.value == "DISABLED" and "CoinGlass" in stored.note and stored.failures == 0


def test_a_schedule_change_in_the_config_is_seen_without_restart(engines):
    world = make_world(symbols=SYMBOLS[:1])
    calls = []

    def count(target, now):
        calls.append(now)
        return 0

    def every():
        return Every(world.repos.config.get("ORDER_HISTORY_SYNC_INTERVAL"))

    spec = JobSpec("order_history", Scope.GLOBAL, every, count)
    engine = world.engine(extra_specs=[spec])
    engines.append(engine)
    engine.start()
    eventually(lambda: idle(engine, world.clock))
    step(engine, world.clock, timedelta(seconds=30), times=4)
    assert len(calls) == 1 + 4
    world.repos.config.set("ORDER_HISTORY_SYNC_INTERVAL", 120)
    step(engine, world.clock, timedelta(seconds=120), times=2)
    assert len(calls) == 1 + 4 + 2


def test_stop_ends_a_long_backfill_within_five_seconds(engines):
    world = make_world(symbols=SYMBOLS[:1], days=(55, 55, 55))
    started = threading.Event()
    real = world.venue.candles

    def slow(*args, **kwargs):
        started.set()
        time.sleep(0.05)  # a venue answering slowly: 18 pages of 15m to go
        return real(*args, **kwargs)

    world.venue.candles = slow
    engine = world.engine()
    engine.start()
    assert started.wait(10)
    eventually(lambda: world.repos.klines.range(SYMBOLS[0], M15).height > 0)
    begun = time.monotonic()
    assert engine.stop(timeout=5.0)
    assert time.monotonic() - begun < 5.0
    stored = world.repos.klines.range(SYMBOLS[0], M15)
    assert 0 < stored.height < 55 * 96 - 1  # what was fetched is kept; the rest comes next start


def test_run_once_refuses_unknown_kinds_and_symbols():
    engine = make_world().engine()
    with pytest.raises(InvalidInput, match="kinds"):
        engine.run_once(kinds=["klines_5m"])
    with pytest.raises(InvalidInput, match="DOGE"):
        engine.run_once(symbols=["DOGE-USDT-SWAP"])


def test_a_close_the_venue_has_not_confirmed_yet_is_asked_again_seconds_later(engines, caplog):
    world = make_world(symbols=SYMBOLS[:1])
    engine = world.engine()
    engines.append(engine)
    engine.start()
    eventually(lambda: idle(engine, world.clock))
    world.venue.unconfirmed_newest = True  # OKX confirms a candle a moment after its close
    step(engine, world.clock, timedelta(minutes=15))
    close = M15.floor(world.clock.now())
    assert newest_close(world, SYMBOLS[0]) == close - M15.duration  # not stored unconfirmed
    status = by_job(engine)[f"klines_15m:{SYMBOLS[0]}"]
    assert status["state"] == "OK" and "not confirmed" in status["note"]
    assert status["next_run"] == (world.clock.now() + timedelta(seconds=2)).isoformat()
    world.venue.unconfirmed_newest = False
    step(engine, world.clock, timedelta(seconds=2))
    assert newest_close(world, SYMBOLS[0]) == close  # 7 s after the close, not 15 min
    assert world.detection.judged[(SYMBOLS[0], close)] == 1
    status = by_job(engine)[f"klines_15m:{SYMBOLS[0]}"]
    assert status["next_run"] == (close + M15.duration + timedelta(seconds=5)).isoformat()
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
