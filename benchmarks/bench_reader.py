"""Notebook reads: ``qwentrade.open(url).klines(...)`` against an Arrow-native reader.

Stores ``--rows`` 15m candles of one symbol with every indicator column (TA-Lib-exact,
null before each lookback), beside a second symbol's few thousand, in a SQLite file and
in a temporary PostgreSQL database. Then times, in the same run, reading that symbol's
whole history into polars:

- qwentrade: ``with qwentrade.open(url) as db: db.klines(symbol, "15m")`` - opening
  included, as a notebook does it;
- connectorx (the reference; needs ``pip install connectorx pyarrow``, skipped when
  missing) and plain ADBC, each reading ``SELECT * ... ORDER BY time`` into polars;
- the SQLAlchemy row-by-row read qwentrade used before (``SqlKlineRepository.range``).

Medians of ``--repeat`` runs after a warm-up. Candles come from a random walk, or from an
OKX CSV (``ts_ms,open,high,low,close,volume``) given with ``--csv``.

    .venv/bin/python benchmarks/bench_reader.py --rows 150000

Target: qwentrade <= 1.5x connectorx's time on both databases.
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

import qwentrade
from qwentrade.adapters.sql import make_engine, upgrade
from qwentrade.adapters.sql.repositories import SqlKlineRepository
from qwentrade.domain.indicators import compute
from qwentrade.domain.market import Timeframe
from qwentrade.domain.series import kline_schema

M15 = Timeframe.M15
TARGET = 1.5
SYMBOL, OTHER = "BTC-USDT-SWAP", "ETH-USDT-SWAP"
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
QUERY = f"SELECT * FROM klines_15m WHERE symbol = '{SYMBOL}' ORDER BY time"


def walk(rows: int, seed: int) -> pl.DataFrame:
    """``rows`` consecutive 15m candles of a random walk, from 2019 on."""
    rng = np.random.default_rng(seed)
    start = int(datetime(2019, 1, 1, tzinfo=UTC).timestamp() * 1_000)
    close = 20_000 * np.exp(np.cumsum(rng.normal(0, 0.003, rows)))
    open_ = np.concatenate([[close[0]], close[:-1]])
    spread = np.abs(rng.normal(0, 0.002, rows)) * close
    return pl.DataFrame(
        {
            "ts_ms": start + np.arange(rows, dtype=np.int64) * 900_000,
            "open": open_,
            "high": np.maximum(open_, close) + spread,
            "low": np.minimum(open_, close) - spread,
            "close": close,
            "volume": rng.gamma(2.0, 300.0, rows),
        }
    )


def candles(raw: pl.DataFrame, symbol: str) -> pl.DataFrame:
    """``raw`` OKX-style rows as a klines frame with every indicator column."""
    frame = raw.select(
        pl.lit(symbol).alias("symbol"),
        pl.from_epoch("ts_ms", time_unit="ms").cast(pl.Datetime("us", "UTC")).alias("time"),
        *(pl.col(name).cast(pl.Float64) for name in ("open", "high", "low", "close", "volume")),
    )
    return compute(frame).select(kline_schema(M15).keys())


def fill(engine: sa.Engine, main: pl.DataFrame, other: pl.DataFrame) -> None:
    upgrade(engine)
    repository = SqlKlineRepository(engine)
    repository.upsert(M15, main)
    repository.upsert(M15, other)


def median(action: Callable[[], pl.DataFrame], repeat: int, rows: int) -> float:
    frame = action()  # warm-up, and proof that it read everything
    assert frame.height == rows, f"read {frame.height} rows, expected {rows}"
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        action()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def references(cx_url: str, adbc: Callable[[], pl.DataFrame]) -> dict[str, Callable]:
    readers: dict[str, Callable[[], pl.DataFrame]] = {}
    try:
        import connectorx
        import pyarrow  # noqa: F401  connectorx needs it to hand frames to polars

        def cx() -> pl.DataFrame:
            return connectorx.read_sql(cx_url, QUERY, return_type="polars")

        readers["connectorx"] = cx
    except ImportError:
        print("  (connectorx or pyarrow not installed: no connectorx reference)")
    readers["ADBC"] = adbc
    return readers


def sqlite_adbc(path: Path) -> Callable[[], pl.DataFrame]:
    def read() -> pl.DataFrame:
        from adbc_driver_sqlite import dbapi

        with dbapi.connect(f"file:{path}?mode=ro") as connection, connection.cursor() as cursor:
            cursor.adbc_statement.set_options(**{"adbc.sqlite.query.batch_rows": "100000000"})
            cursor.execute(QUERY)
            return pl.DataFrame(cursor.fetch_arrow())

    return read


def postgres_adbc(url: sa.URL) -> Callable[[], pl.DataFrame]:
    libpq = url.set(drivername="postgresql").render_as_string(hide_password=False)

    def read() -> pl.DataFrame:
        from adbc_driver_postgresql import dbapi

        with dbapi.connect(libpq) as connection, connection.cursor() as cursor:
            cursor.execute(QUERY)
            return pl.DataFrame(cursor.fetch_arrow())

    return read


def bench(
    name: str, url: str, cx_url: str, adbc: Callable, rows: int, repeat: int, old: bool
) -> None:
    def ours() -> pl.DataFrame:
        with qwentrade.open(url) as db:
            return db.klines(SYMBOL, "15m")

    timings = {"qwentrade.open().klines": median(ours, repeat, rows)}
    for label, reader in references(cx_url, adbc).items():
        timings[label] = median(reader, repeat, rows)
    if old:
        engine = make_engine(url, read_only=True)
        repository = SqlKlineRepository(engine)
        timings["SQLAlchemy rows (before)"] = median(
            lambda: repository.range(SYMBOL, M15), max(1, repeat // 2), rows
        )
        engine.dispose()
    reference = "connectorx" if "connectorx" in timings else "ADBC"
    ours_time = timings["qwentrade.open().klines"]
    print(f"{name}:")
    for label, seconds in timings.items():
        ratio = seconds / timings[reference]
        print(f"  {label:<26}{seconds * 1000:>8.0f} ms {rows / seconds:>12,.0f} rows/s", end="")
        print(f"  {ratio:5.2f}x {reference}")
    ratio = ours_time / timings[reference]
    verdict = "meets" if ratio <= TARGET else "MISSES"
    print(f"  qwentrade {ratio:.2f}x {reference} ({verdict} the <= {TARGET}x target)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=150_000, help="candles of the read symbol")
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per reader")
    parser.add_argument("--csv", type=Path, help="OKX candle CSV to use instead of a walk")
    parser.add_argument("--skip-old", action="store_true", help="skip the SQLAlchemy read")
    parser.add_argument(
        "--database-url",
        default=os.environ.get("QWENTRADE_TEST_DATABASE_URL", DEFAULT_URL),
        help="PostgreSQL server to use (a temporary database is created and dropped)",
    )
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()

    raw = pl.read_csv(args.csv).head(args.rows) if args.csv else walk(args.rows, seed=7)
    main_rows, other_rows = candles(raw, SYMBOL), candles(walk(5_000, seed=3), OTHER)
    rows = main_rows.height
    print(
        f"{rows:,} 15m rows x {main_rows.width} columns read (of {rows + 5_000:,} stored), ", end=""
    )
    print(f"medians of {args.repeat} after a warm-up")
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "bench.db"
        engine = make_engine(f"sqlite:///{path}")
        fill(engine, main_rows, other_rows)
        engine.dispose()
        adbc = sqlite_adbc(path)
        bench(
            "SQLite",
            f"sqlite:///{path}",
            f"sqlite://{path}",
            adbc,
            rows,
            args.repeat,
            not args.skip_old,
        )
    if args.skip_postgres:
        return
    server = make_engine(args.database_url, isolation_level="AUTOCOMMIT")
    database = f"qwentrade_bench_{uuid.uuid4().hex[:8]}"
    with server.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{database}"')
    try:
        url = server.url.set(database=database)
        engine = make_engine(url)
        fill(engine, main_rows, other_rows)
        engine.dispose()
        text = url.render_as_string(hide_password=False)
        cx_url = url.set(drivername="postgresql").render_as_string(hide_password=False)
        bench("PostgreSQL", text, cx_url, postgres_adbc(url), rows, args.repeat, not args.skip_old)
    finally:
        with server.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        server.dispose()


if __name__ == "__main__":
    main()
