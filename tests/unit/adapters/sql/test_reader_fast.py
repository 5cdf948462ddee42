"""The column-wise candle read (ADBC) returns exactly what the SQLAlchemy read returned.

Both reads run on the same database, SQLite and PostgreSQL, and the frames must be equal
value for value (exactly), with the same nulls, dtypes, column order and row order, for
every span, page and order that ``range`` takes, and for results with no rows.
"""

from __future__ import annotations

import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from qwentrade.adapters.sql import make_engine
from qwentrade.adapters.sql.fastread import ArrowKlineReader
from qwentrade.adapters.sql.repositories import SqlKlineRepository
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.indicators import compute
from qwentrade.domain.market import Timeframe
from qwentrade.domain.series import indicator_columns, kline_schema

CANDLES = Path(__file__).resolve().parents[3] / "data" / "candles"
BTC, ETH, QUOTED = "BTC-USDT-SWAP", "ETH-USDT-SWAP", "O'QUOTE\\-USDT-SWAP"
M15 = Timeframe.M15
START = datetime(2022, 11, 20, tzinfo=UTC)


def real_candles(symbol: str) -> pl.DataFrame:
    """OKX candles from tests/data with TA-Lib-exact indicators (null before lookbacks)."""
    raw = pl.read_csv(CANDLES / f"okx_{symbol}_15m_2022-11-20_2022-12-20.csv")
    frame = raw.select(
        pl.lit(symbol).alias("symbol"),
        pl.from_epoch("ts_ms", time_unit="ms").cast(pl.Datetime("us", "UTC")).alias("time"),
        *(pl.col(name).cast(pl.Float64) for name in ("open", "high", "low", "close", "volume")),
    )
    return compute(frame).select(kline_schema(M15).keys())


def awkward_nulls(frame: pl.DataFrame, symbol: str) -> pl.DataFrame:
    """Nulls where a driver guessing types from the first rows would trip: a column null
    for its first 1,500 rows (more than one driver batch), one null everywhere, and a
    scattering of nulls and NaN-free extremes (-0.0, tiny and huge values) elsewhere."""
    rows = np.arange(frame.height)
    return frame.with_columns(
        pl.lit(symbol).alias("symbol"),
        pl.when(pl.Series(rows) < 1500).then(None).otherwise(pl.col("ema_55")).alias("ema_55"),
        pl.lit(None, pl.Float64).alias("obv_ema_9"),
        pl.when(pl.Series(rows % 7 == 3)).then(None).otherwise(pl.col("rsi_7")).alias("rsi_7"),
        pl.Series("bb_width", np.resize([-0.0, 5e-324, 1.7976931348623157e308, 1 / 3], rows.size)),
    )


@pytest.fixture
def stored(sql):
    """A database holding real BTC and ETH candles and a BTC copy with awkward nulls."""
    repository = SqlKlineRepository(sql)
    btc, eth = real_candles(BTC), real_candles(ETH)
    repository.upsert(M15, btc)
    repository.upsert(M15, eth)
    repository.upsert(M15, awkward_nulls(btc, QUOTED))
    return sql


def both(engine, symbol, **query):
    old = SqlKlineRepository(engine).range(symbol, M15, **query)
    engine.dispose()  # no pooled sqlite3 connection left open: the ADBC read is allowed
    fast = ArrowKlineReader(engine)
    new = fast.range(symbol, M15, **query)
    assert fast.row_reads == 0
    assert_frame_equal(new, old, check_exact=True)
    assert new.schema == old.schema == kline_schema(M15)
    assert new.columns == old.columns
    return new


SPANS = {
    "all": {},
    "start": {"start": START + timedelta(days=3, minutes=7)},
    "end": {"end": START + timedelta(days=2)},
    "both": {"start": START + timedelta(days=1), "end": START + timedelta(days=1, hours=5)},
    "one row": {"start": START + timedelta(hours=1), "end": START + timedelta(hours=1, minutes=1)},
    "limit": {"limit": 100},
    "offset": {"offset": 2900},
    "page": {"start": START + timedelta(days=1), "limit": 10, "offset": 5},
    "newest first": {"limit": 50, "newest_first": True},
    "newest first, paged": {"end": START + timedelta(days=9), "limit": 7, "offset": 3,
                            "newest_first": True},
}  # fmt: skip


@pytest.mark.parametrize("symbol", [BTC, ETH, QUOTED])
@pytest.mark.parametrize("span", SPANS)
def test_the_fast_read_equals_the_old_read(stored, symbol, span):
    frame = both(stored, symbol, **SPANS[span])
    assert frame.height > 0
    assert frame["symbol"].unique().to_list() == [symbol]


def test_nulls_stay_nulls_and_values_are_exact(stored):
    frame = both(stored, QUOTED)
    assert frame["ema_55"].null_count() == 1500
    assert frame["obv_ema_9"].null_count() == frame.height
    assert frame["ema_9"][:8].is_null().all() and frame["ema_9"][8:].is_not_null().all()
    assert frame["bb_width"][:4].to_list() == [-0.0, 5e-324, 1.7976931348623157e308, 1 / 3]


EMPTY = {
    "unknown symbol": ("NOPE-USDT-SWAP", {}),
    "before the data": (BTC, {"end": START}),
    "after the data": (BTC, {"start": START + timedelta(days=60)}),
    "empty span": (BTC, {"start": START + timedelta(days=1), "end": START + timedelta(days=1)}),
    "limit 0": (BTC, {"limit": 0}),
    "offset past the end": (BTC, {"offset": 10_000}),
}


@pytest.mark.parametrize("case", EMPTY)
def test_empty_results_have_the_full_schema(stored, case):
    symbol, query = EMPTY[case]
    frame = both(stored, symbol, **query)
    assert frame.is_empty()


def test_an_empty_table_and_the_other_timeframes(sql):
    for timeframe in (Timeframe.M15, Timeframe.H4, Timeframe.D1):
        frame = ArrowKlineReader(sql).range(BTC, timeframe)
        assert frame.is_empty() and frame.schema == kline_schema(timeframe)
    four_hours = real_candles(BTC).filter(pl.col("time").dt.hour() % 4 == 0)
    four_hours = four_hours.filter(pl.col("time").dt.minute() == 0).rename({"rsi_7": "rsi_14"})
    SqlKlineRepository(sql).upsert(Timeframe.H4, four_hours)
    old = SqlKlineRepository(sql).range(BTC, Timeframe.H4)
    new = ArrowKlineReader(sql).range(BTC, "4H")
    assert_frame_equal(new, old, check_exact=True)
    assert "rsi_14" in new.columns and set(indicator_columns(Timeframe.H4)) < set(new.columns)


def test_bad_arguments_are_refused_as_before(sql):
    fast = ArrowKlineReader(sql)
    for query, field in (
        ({"start": datetime(2024, 1, 1)}, "start"),
        ({"start": START + timedelta(days=1), "end": START}, "end"),
        ({"limit": -1}, "limit"),
        ({"offset": -2}, "offset"),
    ):
        with pytest.raises(InvalidInput) as caught:
            fast.range(BTC, M15, **query)
        assert caught.value.field == field
    with pytest.raises(InvalidInput):
        fast.range("", M15)


def test_a_sqlite_file_this_process_has_open_is_read_row_by_row(sql):
    """A second SQLite library must not open a file this process's sqlite3 holds."""
    SqlKlineRepository(sql).upsert(M15, real_candles(BTC))
    fast = ArrowKlineReader(sql)
    with sql.connect() as held:
        held.exec_driver_sql("SELECT 1").all()
        frame = fast.range(BTC, M15, limit=20)
    sql.dispose()
    expected = 1 if sql.dialect.name == "sqlite" else 0
    assert fast.row_reads == expected
    assert_frame_equal(frame, fast.range(BTC, M15, limit=20), check_exact=True)
    assert fast.row_reads == expected


def test_sqlite_times_written_without_a_fraction_read_as_before(tmp_path, sqlite_template):
    """Times stored by another tool as ``YYYY-MM-DD HH:MM:SS`` (or a short fraction)."""
    path = tmp_path / "other.db"
    shutil.copy(sqlite_template, path)
    engine = make_engine(f"sqlite:///{path}")
    SqlKlineRepository(engine).upsert(M15, real_candles(BTC).head(50))
    engine.dispose()
    with sqlite3.connect(path) as connection:
        connection.execute("UPDATE klines_15m SET time = substr(time, 1, 19) WHERE rowid % 2 = 0")
        connection.execute("UPDATE klines_15m SET time = substr(time, 1, 21) WHERE rowid % 5 = 0")
    connection.close()
    frame = both(engine, BTC)
    assert frame["time"].to_list() == real_candles(BTC).head(50)["time"].to_list()
    engine.dispose()
