"""KlineBackfill and DetectionService on memory repositories and the simulated exchange."""

from datetime import UTC, datetime, timedelta

import polars as pl
import pytest

from qwentrade.adapters.memory import MemoryKlineRepository, MemorySignalRepository
from qwentrade.adapters.sim import GeneratedPath, SimEngine, SimExchange, SteppedClock
from qwentrade.app.backfill import KlineBackfill
from qwentrade.app.detection import DetectionService, NoCandles
from qwentrade.domain.detector import DetectorParams, detect_history
from qwentrade.domain.indicators import IndicatorParams, compute
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS
from qwentrade.domain.market import Timeframe

SYMBOL = "BTC-USDT-SWAP"
START = datetime(2025, 1, 1, tzinfo=UTC)
NOW = datetime(2025, 3, 1, 0, 7, tzinfo=UTC)


class CountingExchange:
    """The simulated exchange, counting candle requests (a fake that works)."""

    def __init__(self, exchange):
        self._exchange = exchange
        self.candle_calls = 0

    def candles(self, *args, **kwargs):
        self.candle_calls += 1
        return self._exchange.candles(*args, **kwargs)


@pytest.fixture
def world():
    clock = SteppedClock(NOW)
    path = GeneratedPath((SYMBOL,), seed=7, start=START)
    exchange = CountingExchange(
        SimExchange(SimEngine([DEFAULT_INSTRUMENTS[SYMBOL]], clock=clock, price_path=path))
    )
    klines = MemoryKlineRepository()
    return clock, exchange, klines, KlineBackfill(exchange, klines, clock)


def test_backfill_stores_every_closed_candle_with_exact_indicators(world):
    _clock, exchange, klines, backfill = world
    report = backfill.run(SYMBOL, Timeframe.M15, days=10)
    assert report.fetched == report.written == 10 * 96 - 1  # the open candle is not stored
    assert report.still_missing == 0
    stored = klines.range(SYMBOL, Timeframe.M15)
    assert stored["time"][-1] == datetime(2025, 2, 28, 23, 45, tzinfo=UTC)
    assert exchange.candle_calls == 4  # pages of at most 300
    expected = compute(stored.select("time", "open", "high", "low", "close", "volume"))
    for column in ("ema_55", "rsi_7", "macd_line", "adx_14", "obv_ema_9"):
        assert stored[column].to_list() == expected[column].to_list()


def test_backfill_again_fetches_nothing_and_changes_nothing(world):
    _clock, exchange, klines, backfill = world
    backfill.run(SYMBOL, Timeframe.H4, days=30)
    before = klines.range(SYMBOL, Timeframe.H4)
    calls = exchange.candle_calls
    again = backfill.run(SYMBOL, Timeframe.H4, days=30)
    assert (again.fetched, again.written) == (0, 0)
    assert exchange.candle_calls == calls
    assert klines.range(SYMBOL, Timeframe.H4).equals(before)


def test_a_gap_is_filled_and_later_indicators_recomputed_exactly(world):
    clock, exchange, klines, backfill = world
    backfill.run(SYMBOL, Timeframe.M15, days=5)
    full = klines.range(SYMBOL, Timeframe.M15)
    # Lose a day in the middle: the stored rows after it keep stale indicator values.
    gap_start, gap_end = full["time"][100], full["time"][196]
    damaged = full.filter((pl.col("time") < gap_start) | (pl.col("time") >= gap_end))
    fresh = MemoryKlineRepository()
    fresh.upsert(Timeframe.M15, damaged.with_columns(pl.lit(0.0).alias("ema_55")), symbol=SYMBOL)
    repaired = KlineBackfill(exchange, fresh, clock).run(SYMBOL, Timeframe.M15, days=5)
    assert repaired.fetched == 96 and repaired.still_missing == 0
    healed = fresh.range(SYMBOL, Timeframe.M15)
    # Rows from the gap on are recomputed over the whole history: identical to never losing it.
    after = pl.col("time") >= gap_start
    assert healed.filter(after).equals(full.filter(after))
    # Rows before the gap were not rewritten (their stale ema_55 stays: nothing asked).
    assert set(healed.filter(~after)["ema_55"].to_list()) == {0.0}


def test_time_moving_on_fetches_only_the_new_closes(world):
    clock, _exchange, klines, backfill = world
    backfill.run(SYMBOL, Timeframe.M15, days=3)
    clock.advance(timedelta(hours=2))
    report = backfill.run(SYMBOL, Timeframe.M15, days=3)
    assert report.fetched == 8
    assert klines.latest_time(SYMBOL, Timeframe.M15) == datetime(2025, 3, 1, 1, 45, tzinfo=UTC)


def test_detection_service_agrees_with_detect_history_and_stores_signals(world):
    clock, _exchange, klines, backfill = world
    backfill.run(SYMBOL, Timeframe.M15, days=20)
    backfill.run(SYMBOL, Timeframe.H4, days=40)
    signals = MemorySignalRepository()
    service = DetectionService(klines, signals, clock)
    history = detect_history(
        klines.range(SYMBOL, Timeframe.M15), klines.range(SYMBOL, Timeframe.H4)
    )
    fired = history.filter(pl.col("signal_type").is_not_null())
    assert fired.height > 0, "the generated market should produce signals"
    for row in fired.tail(5).iter_rows(named=True):
        detection = service.detect(SYMBOL, at=row["time"] + timedelta(minutes=15))
        assert detection.result.score == row["score"]
        assert detection.signal is not None
        assert detection.signal.signal_type == row["signal_type"]
        assert detection.signal.details["parts"] == detection.result.parts
        # created now, expiring 4 h after its candle closed (a close judged late never
        # outlives its live twin); a past close re-judged is stale at birth
        assert detection.signal.created_at == NOW
        assert detection.signal.expire_at == row["time"] + timedelta(minutes=15, hours=4)
        fresh = detection.signal.expire_at > NOW
        assert detection.signal.status == ("ACTIVE" if fresh else "EXPIRED")
        assert (detection.signal in signals.active(NOW, SYMBOL)) is fresh
    stored = signals.find(SYMBOL)
    assert len(stored) == 5
    # Judging the same close again replaces the signal, never duplicates it.
    last = fired.tail(1).row(0, named=True)
    service.detect(SYMBOL, at=last["time"] + timedelta(minutes=15))
    assert len(signals.find(SYMBOL)) == 5


def test_detection_without_enough_candles_explains_itself(world):
    clock, _exchange, klines, backfill = world
    backfill.run(SYMBOL, Timeframe.M15, days=2)
    detection = DetectionService(klines, MemorySignalRepository(), clock).detect(SYMBOL)
    assert not detection.result.signal and detection.signal is None
    assert "need" in detection.result.reason and "4h" in detection.result.reason


def test_detection_on_an_empty_database_says_to_backfill(world):
    clock, _exchange, klines, _backfill = world
    with pytest.raises(NoCandles, match="run `qwentrade backfill` first"):
        DetectionService(klines, MemorySignalRepository(), clock).detect(SYMBOL)


def test_indicator_params_follow_the_timeframe(world):
    _clock, _exchange, klines, backfill = world
    backfill.run(SYMBOL, Timeframe.H4, days=20)
    frame = klines.range(SYMBOL, Timeframe.H4)
    assert "rsi_14" in frame.columns and frame["rsi_14"].drop_nulls().len() > 0
    assert IndicatorParams.for_timeframe(Timeframe.H4).rsi_period == 14
    assert DetectorParams().rsi_column == "rsi_7"
