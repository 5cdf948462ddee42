"""Config keys are read at the moment they are used: a `config set` from another process
(another store on the same database) is seen by the next detection and the next backfill,
with no restart."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from qwentrade.adapters.memory import MemoryKlineRepository, MemorySignalRepository
from qwentrade.adapters.sim import GeneratedPath, SimEngine, SimExchange, SteppedClock
from qwentrade.adapters.sql import SqlConfigStore
from qwentrade.app.backfill import KlineBackfill
from qwentrade.app.detection import DetectionService
from qwentrade.domain.detector import DetectorParams, detect_history
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS
from qwentrade.domain.market import Timeframe

SYMBOL = "BTC-USDT-SWAP"
START = datetime(2025, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 3, 1, 0, 7, tzinfo=UTC)


@pytest.fixture
def market():
    clock = SteppedClock(NOW)
    path = GeneratedPath((SYMBOL,), seed=7, start=START)
    exchange = SimExchange(SimEngine([DEFAULT_INSTRUMENTS[SYMBOL]], clock=clock, price_path=path))
    return clock, exchange, MemoryKlineRepository()


def test_a_config_change_is_seen_by_the_next_detection_without_restart(sql, market):
    clock, exchange, klines = market
    backfill = KlineBackfill(exchange, klines, clock)
    backfill.run(SYMBOL, Timeframe.M15, days=20)
    backfill.run(SYMBOL, Timeframe.H4, days=40)
    service_store, cli_store = SqlConfigStore(sql), SqlConfigStore(sql)  # two "processes"
    signals = MemorySignalRepository()
    service = DetectionService(klines, signals, clock, service_store)
    history = detect_history(
        klines.range(SYMBOL, Timeframe.M15), klines.range(SYMBOL, Timeframe.H4)
    )
    fired = history.filter(pl.col("signal_type").is_not_null() & (pl.col("score") < 30))
    row = fired.row(-1, named=True)
    at = row["time"] + timedelta(minutes=15)

    first = service.detect(SYMBOL, at=at, store=False)
    assert first.result.signal and first.result.threshold == 15

    cli_store.set("DETECTOR_SIGNAL_THRESHOLD", row["score"] + 1)  # just out of reach
    second = service.detect(SYMBOL, at=at, store=False)
    assert second.result.threshold == row["score"] + 1
    assert second.result.score == row["score"] and not second.result.signal

    cli_store.set("detector.points_environment", 0)  # points are keys too
    third = service.detect(SYMBOL, at=at, store=False)
    assert third.result.parts["environment"] == 0

    cli_store.reset("DETECTOR_SIGNAL_THRESHOLD")
    cli_store.reset("DETECTOR_POINTS_ENVIRONMENT")
    cli_store.set("DETECTOR_SIGNAL_EXPIRE_HOURS", 1)
    clock = SteppedClock(at + timedelta(seconds=5))  # judging the close as it happens
    service = DetectionService(klines, signals, clock, service_store)
    live = service.detect(SYMBOL, at=at)
    assert live.signal is not None and live.signal.status == "ACTIVE"
    assert live.signal.expire_at == at + timedelta(hours=1)  # an hour from the close
    assert [s.id for s in signals.active(clock.now(), SYMBOL)] == [live.signal.id]
    # an hour on, the next detection marks it EXPIRED: it never counts as active again
    clock.set(at + timedelta(hours=1, seconds=5))
    service.detect(SYMBOL, at=at - timedelta(minutes=15), store=True)
    assert signals.get(live.signal.id).status == "EXPIRED"
    assert signals.active(clock.now(), SYMBOL) == []


def test_the_candle_counts_loaded_are_config_keys(sql, market):
    clock, exchange, klines = market
    backfill = KlineBackfill(exchange, klines, clock)
    backfill.run(SYMBOL, Timeframe.M15, days=5)
    backfill.run(SYMBOL, Timeframe.H4, days=20)
    store = SqlConfigStore(sql)
    service = DetectionService(klines, MemorySignalRepository(), clock, store)
    assert service.params.kline_15m_count == 100 and service.params.kline_4h_count == 60
    store.set("DETECTOR_KLINE_15M_COUNT", 20)  # the 20-candle windows still fit
    store.set("DETECTOR_KLINE_4H_COUNT", 3)
    result = service.detect(SYMBOL, store=False).result
    assert result.status == "ok"  # what is loaded is enough: counts are not minimums
    pinned = DetectorParams(kline_15m_count=20, kline_4h_count=3)
    frame_15m = klines.range(SYMBOL, Timeframe.M15).tail(20)
    frame_4h = klines.range(SYMBOL, Timeframe.H4)
    frame_4h = frame_4h.filter(
        pl.col("time") + Timeframe.H4.duration <= frame_15m["time"][-1] + Timeframe.M15.duration
    ).tail(3)
    from qwentrade.domain.detector import detect

    assert detect(frame_15m, frame_4h, pinned) == result


def test_backfill_reads_its_history_windows_from_the_config(sql, market):
    clock, exchange, klines = market
    store = SqlConfigStore(sql)
    backfill = KlineBackfill(exchange, klines, clock, config=store)
    assert [backfill.start_days(tf) for tf in (Timeframe.M15, Timeframe.H4, Timeframe.D1)] == [
        30,
        180,
        600,
    ]
    store.set("KLINE_1D_START_DAYS", 10)
    report = backfill.run(SYMBOL, Timeframe.D1)
    # the days that opened and closed within the 10 days before NOW (00:07)
    assert report.fetched == 9 and report.first == datetime(2025, 2, 20, tzinfo=UTC)
    SqlConfigStore(sql).set("KLINE_1D_START_DAYS", 20)
    assert backfill.run(SYMBOL, Timeframe.D1).fetched == 10  # the 10 older ones
