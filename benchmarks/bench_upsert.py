"""Bulk candle upsert: qwentrade's KlineRepository against a plain binary COPY.

Builds ``--rows`` 15m candles with every indicator column (some nulls) over a few symbols,
stores the first half of each symbol's history untimed, then times ``upsert`` of all rows
- half of them updates (changed values), half new - into PostgreSQL and into SQLite.
Beside it, in the same run, two references copy the same rows into the empty table with
a plain binary COPY (no key handling): one with qwentrade's numpy encoder (the strict
reference: the difference is the upsert work alone), one fed row by row through psycopg's
``write_row`` with aware datetimes (the method PERF-NOTES measured its 166k rows/s with).
Medians of ``--repeat`` runs.

    .venv/bin/python benchmarks/bench_upsert.py --rows 1000000

Targets: PostgreSQL upsert >= 75% of plain COPY's rate; SQLite >= 150,000 rows/s.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl
import sqlalchemy as sa

from qwentrade.adapters.sql import make_engine, pgcopy, upgrade
from qwentrade.adapters.sql.repositories import SqlKlineRepository
from qwentrade.adapters.sql.schema import kline_table
from qwentrade.domain.market import Timeframe
from qwentrade.domain.series import indicator_columns, normalize_klines

M15 = Timeframe.M15
PG_TARGET = 0.75
SQLITE_TARGET = 150_000
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


def candles(rows: int, symbols: int, seed: int = 7) -> pl.DataFrame:
    """``rows`` consecutive 15m candles spread over ``symbols`` symbols, all columns."""
    rng = np.random.default_rng(seed)
    per = rows // symbols
    start = int(datetime(2015, 1, 1, tzinfo=UTC).timestamp() * 1_000_000)
    times = start + np.arange(per, dtype=np.int64) * 900_000_000
    close = 100 + np.cumsum(rng.normal(0, 1, per * symbols))
    data: dict[str, object] = {
        "symbol": np.repeat([f"B{i}-USDT-SWAP" for i in range(symbols)], per),
        "time": np.tile(times, symbols),
        "open": np.abs(close) + 1,
        "close": np.abs(close) + 1.5,
        "volume": rng.random(per * symbols) * 1e3,
    }
    data["high"] = np.maximum(data["open"], data["close"]) + 1  # type: ignore[call-overload]
    data["low"] = np.minimum(data["open"], data["close"]) - 0.5  # type: ignore[call-overload]
    for name in indicator_columns(M15):
        values = rng.normal(50, 20, per * symbols)
        data[name] = np.where(np.tile(np.arange(per), symbols) < 55, np.nan, values)
    frame = pl.DataFrame(data).with_columns(
        pl.col("time").cast(pl.Datetime("us", "UTC")), pl.col("low").clip(lower_bound=0)
    )
    return normalize_klines(M15, frame)


def first_half(frame: pl.DataFrame) -> pl.DataFrame:
    return frame.filter(pl.int_range(pl.len()).over("symbol") < pl.len().over("symbol") // 2)


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def bench_postgres(url: str, frame: pl.DataFrame, repeat: int) -> tuple[float, float, float]:
    """(plain COPY rows/s, row-by-row COPY rows/s, upsert rows/s), medians."""
    schema = f"qwentrade_bench_{uuid.uuid4().hex[:8]}"
    admin = make_engine(url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    engine = make_engine(url, search_path=schema)
    try:
        upgrade(engine)
        table = kline_table(M15)
        repo = SqlKlineRepository(engine)
        updates = frame.with_columns(pl.col("close") * 1.001, pl.col("ema_9") + 1)
        copies, row_copies, upserts = [], [], []
        for _ in range(repeat):
            empty(engine, table)
            copies.append(timed(lambda: plain_copy(engine, table, frame)))
            empty(engine, table)
            row_copies.append(timed(lambda: row_copy(engine, table, frame)))
            empty(engine, table)
            with engine.begin() as connection:
                pgcopy.copy_frame(
                    connection.connection.driver_connection, table.name, first_half(frame)
                )
            checkpoint(engine)
            upserts.append(timed(lambda: repo.upsert(M15, updates)))
            check(engine, table, frame.height)
        return tuple(frame.height / statistics.median(t) for t in (copies, row_copies, upserts))
    finally:
        engine.dispose()
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def plain_copy(engine: sa.Engine, table: sa.Table, frame: pl.DataFrame) -> None:
    with engine.begin() as connection:
        pgcopy.copy_frame(connection.connection.driver_connection, table.name, frame)


def row_copy(engine: sa.Engine, table: sa.Table, frame: pl.DataFrame) -> None:
    types = ["text", "timestamptz", *["float8"] * (frame.width - 2)]
    with engine.begin() as connection:
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table.name} FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(types)
            for row in frame.iter_rows():
                copy.write_row(row)


def empty(engine: sa.Engine, table: sa.Table) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {table.name}")
    checkpoint(engine)


def checkpoint(engine: sa.Engine) -> None:
    """Start each timed run from a clean buffer state (needs a superuser; else skipped)."""
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.exec_driver_sql("CHECKPOINT")
    except sa.exc.DBAPIError:
        pass


def check(engine: sa.Engine, table: sa.Table, rows: int) -> None:
    with engine.connect() as connection:
        stored = connection.execute(sa.select(sa.func.count()).select_from(table)).scalar()
    assert stored == rows, f"{stored} rows stored, expected {rows}"


def bench_sqlite(frame: pl.DataFrame, repeat: int, directory: Path) -> float:
    updates = frame.with_columns(pl.col("close") * 1.001, pl.col("ema_9") + 1)
    times = []
    for run in range(repeat):
        path = directory / f"bench_{run}.db"
        engine = make_engine(f"sqlite:///{path}")
        upgrade(engine)
        repo = SqlKlineRepository(engine)
        repo.upsert(M15, first_half(frame))
        times.append(timed(lambda repo=repo: repo.upsert(M15, updates)))
        check(engine, kline_table(M15), frame.height)
        engine.dispose()
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    return frame.height / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="candles (default 1e6)")
    parser.add_argument("--symbols", type=int, default=4, help="symbols the rows spread over")
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per method")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("QWENTRADE_TEST_DATABASE_URL", DEFAULT_URL),
        help="PostgreSQL to use (a temporary schema is created and dropped)",
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    frame = candles(args.rows, args.symbols)
    print(f"{frame.height:,} rows x {frame.width} columns, {args.symbols} symbols, ", end="")
    print(f"half updates, half new; medians of {args.repeat}")
    if not args.skip_postgres:
        copy_rate, row_rate, upsert_rate = bench_postgres(args.database_url, frame, args.repeat)
        print(f"PostgreSQL plain binary COPY (numpy encoder)   : {copy_rate:>10,.0f} rows/s")
        print(f"PostgreSQL plain binary COPY (psycopg rows)    : {row_rate:>10,.0f} rows/s")
        print(f"PostgreSQL KlineRepository.upsert              : {upsert_rate:>10,.0f} rows/s")
        for name, rate in (("numpy-encoded", copy_rate), ("row-fed", row_rate)):
            ratio = upsert_rate / rate
            verdict = "meets" if ratio >= PG_TARGET else "MISSES"
            print(f"  {ratio:.0%} of the {name} COPY ({verdict} the {PG_TARGET:.0%} target)")
    with tempfile.TemporaryDirectory() as directory:
        rate = bench_sqlite(frame, args.repeat, Path(directory))
    verdict = "meets" if rate >= SQLITE_TARGET else "MISSES"
    print(f"SQLite KlineRepository.upsert                  : {rate:>10,.0f} rows/s")
    print(f"  ({verdict} the {SQLITE_TARGET:,} rows/s target)")


if __name__ == "__main__":
    main()
