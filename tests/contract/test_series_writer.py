"""KlineRepository.writing: one writer per series across processes, one transaction per
write; and the two backfill races it exists for, reproduced deterministically.

A second "process" is a second repository on its own engine (its own connections and
sessions), on the same database.
"""

from __future__ import annotations

import shutil
import threading
from datetime import UTC, datetime

import polars as pl
import pytest
import sqlalchemy as sa

from qwentrade.adapters.memory import MemoryKlineRepository
from qwentrade.adapters.sim import GeneratedPath, SimEngine, SimExchange, SteppedClock
from qwentrade.adapters.sql import make_engine
from qwentrade.adapters.sql.repositories import SqlKlineRepository
from qwentrade.adapters.sql.schema import metadata
from qwentrade.app.backfill import KlineBackfill
from qwentrade.domain.indicators import IndicatorParams, compute
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS
from qwentrade.domain.market import Timeframe
from qwentrade.testing.builders import synthetic_candles

SYMBOL = "BTC-USDT-SWAP"
NOW = datetime(2025, 3, 1, 0, 7, tzinfo=UTC)


def twin(engine: sa.Engine) -> sa.Engine:
    """Another engine on the same database (another process's connections)."""
    if engine.dialect.name == "sqlite":
        return make_engine(engine.url)
    with engine.connect() as connection:
        path = connection.exec_driver_sql("SHOW search_path").scalar()
    return make_engine(engine.url, search_path=path.split(",")[0].strip().strip('"'))


@pytest.fixture(params=["memory", "sqlite", "postgresql"])
def two_writers(request, tmp_path):
    """Two kline repositories on one store: (first, second)."""
    if request.param == "memory":
        repository = MemoryKlineRepository()
        return repository, repository
    if request.param == "sqlite":
        path = tmp_path / "qwentrade.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
        request.addfinalizer(engine.dispose)
    else:
        engine = request.getfixturevalue("postgres_engine")
        names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
        with engine.begin() as connection:
            connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY")
    other = twin(engine)
    request.addfinalizer(other.dispose)
    return SqlKlineRepository(engine), SqlKlineRepository(other)


def candles(rows: int, start: int = 0) -> pl.DataFrame:
    frame = synthetic_candles(rows + start).slice(start)
    return compute(frame, IndicatorParams()).with_columns(pl.lit(SYMBOL).alias("symbol"))


def test_writes_inside_a_block_commit_together_or_not_at_all(two_writers):
    first, second = two_writers
    with pytest.raises(RuntimeError), first.writing(SYMBOL, Timeframe.M15) as series:
        series.upsert(candles(50))
        assert series.range().height == 50  # the block sees its own writes
        raise RuntimeError("killed mid-write")
    assert second.range(SYMBOL, Timeframe.M15).is_empty()
    with first.writing(SYMBOL, Timeframe.M15) as series:
        series.upsert(candles(30))
        series.upsert(candles(20, start=30))
    assert second.range(SYMBOL, Timeframe.M15).height == 50


def test_a_writer_holds_only_its_own_series(two_writers):
    first, _ = two_writers
    with first.writing(SYMBOL, Timeframe.M15) as series:
        other = candles(5).with_columns(pl.lit("ETH-USDT-SWAP").alias("symbol"))
        with pytest.raises(ValueError, match=r"frame holds .ETH-USDT-SWAP"):
            series.upsert(other)


def test_a_second_writer_waits_until_the_first_block_ends(two_writers):
    first, second = two_writers
    inside, release, order = threading.Event(), threading.Event(), []

    def hold():
        with first.writing(SYMBOL, Timeframe.M15) as series:
            series.upsert(candles(10))
            inside.set()
            release.wait(10)
            order.append("first commits")

    def wait_then_write():
        inside.wait(10)
        with second.writing(SYMBOL, Timeframe.M15) as series:
            order.append(f"second reads {series.range().height}")
            series.upsert(candles(5, start=10))

    threads = [threading.Thread(target=hold), threading.Thread(target=wait_then_write)]
    for thread in threads:
        thread.start()
    inside.wait(10)
    threads[1].join(0.5)  # the second writer is still waiting at the lock
    assert order == [] and threads[1].is_alive()
    release.set()
    for thread in threads:
        thread.join(30)
    assert order == ["first commits", "second reads 10"]
    assert first.range(SYMBOL, Timeframe.M15).height == 15


def world(klines, between=None):
    clock = SteppedClock(NOW)
    path = GeneratedPath((SYMBOL,), seed=7, start=datetime(2025, 1, 1, tzinfo=UTC))
    engine = SimEngine([DEFAULT_INSTRUMENTS[SYMBOL]], clock=clock, price_path=path)
    return KlineBackfill(SimExchange(engine), klines, clock, between_read_and_write=between)


def wrong_cells(klines, timeframe: Timeframe) -> int:
    """Indicator cells that differ from a recompute over the whole stored history."""
    stored = klines.range(SYMBOL, timeframe)
    params = IndicatorParams.for_timeframe(timeframe)
    expected = compute(stored.select("time", "open", "high", "low", "close", "volume"), params)
    wrong = 0
    for name in params.columns:
        a = stored[name].cast(pl.Float64).fill_null(float("nan")).to_numpy()
        b = expected[name].fill_null(float("nan")).to_numpy()
        same = (a == b) | (abs(a - b) <= 1e-9 * abs(b) + 1e-9) | ((a != a) & (b != b))
        wrong += int((~same).sum())
    return wrong


@pytest.mark.parametrize("timeframe", [Timeframe.M15, Timeframe.H4])
def test_a_long_and_a_short_backfill_racing_leave_no_wrong_cell(two_writers, timeframe):
    """The race found by probing: the long run reads, the short run reads the same (empty)
    history, the long one commits, then the short one commits values computed from its
    few days only. Each run pauses between its read and its write until the other has
    done its part (or 1.5 s passed: with the lock, the other is waiting at it)."""
    first, second = two_writers
    short_read, long_done = threading.Event(), threading.Event()
    long_run = world(first, between=lambda: short_read.wait(1.5))

    def short_pause():
        short_read.set()
        long_done.wait(10)

    short_run = world(second, between=short_pause)
    days = {Timeframe.M15: (12, 3), Timeframe.H4: (120, 20)}[timeframe]
    reports = {}

    def run(name, backfill, days):
        reports[name] = backfill.run(SYMBOL, timeframe, days)
        if name == "long":
            long_done.set()

    threads = [
        threading.Thread(target=run, args=("long", long_run, days[0])),
        threading.Thread(target=run, args=("short", short_run, days[1])),
    ]
    threads[0].start()
    threading.Event().wait(0.2)  # the long run first, as `--days 700` then `--days 30`
    threads[1].start()
    for thread in threads:
        thread.join(60)
    assert reports["long"].written > reports["short"].written > 0
    stored = first.range(SYMBOL, timeframe)
    assert stored.height == reports["long"].written
    assert stored["ema_55"].null_count() == 54  # only the lookback: none in the middle
    assert wrong_cells(first, timeframe) == 0
