"""Storing one new closed candle in a long series: qwentrade against its bounded tail.

Fills SQLite and PostgreSQL with ``--history`` 15m candles (with indicators) of one
symbol, then times ``KlineBackfill.store`` of the next closed candle, again and again (a
fresh candle each time): the writer lock, the read of the last ``warmup`` stored rows
(615), ``IncrementalIndicators.from_batch`` + ``update``, and the one-row write, one
transaction. Beside it, in the same run: the pure compute part alone
(``IncrementalIndicators.from_batch`` over the tail + ``update``, the reference the issue
names) and the previous method (read the whole history, recompute, write). Run with two
history lengths to show the cost does not grow with the history.

    .venv/bin/python benchmarks/bench_store.py --history 150000

Target: <= 20 ms per stored candle, independent of history length.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from qwentrade.adapters.sql import make_engine, upgrade
from qwentrade.adapters.sql.repositories import SqlKlineRepository
from qwentrade.app.backfill import KlineBackfill
from qwentrade.domain.indicators import IncrementalIndicators, IndicatorParams, compute
from qwentrade.domain.market import Candle, Timeframe
from qwentrade.testing.builders import synthetic_candles

SYMBOL = "BTC-USDT-SWAP"
M15 = Timeframe.M15
TARGET_MS = 20.0
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
START = datetime(2019, 1, 1, tzinfo=UTC)


class NoExchange:
    """store() never asks the exchange; run() is not timed here."""


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def as_candle(row: dict) -> Candle:
    return Candle(SYMBOL, row["time"], row["open"], row["high"], row["low"], row["close"],
                  row["volume"])  # fmt: skip


def bench(name: str, engine: sa.Engine, frame: pl.DataFrame, history: int, repeat: int) -> None:
    upgrade(engine)
    klines = SqlKlineRepository(engine)
    stored = compute(frame.head(history))
    klines.upsert(M15, stored, symbol=SYMBOL)
    backfill = KlineBackfill(NoExchange(), klines, clock=None)  # type: ignore[arg-type]
    params = IndicatorParams()
    upcoming = frame.slice(history, repeat).iter_rows(named=True)
    ours = []
    for row in upcoming:
        started = time.perf_counter()
        backfill.store(SYMBOL, M15, [as_candle(row)])
        ours.append(time.perf_counter() - started)
    tail = compute(frame.head(history + repeat)).tail(params.warmup + 1)
    reference = []
    for _ in range(repeat):
        started = time.perf_counter()
        state = IncrementalIndicators.from_batch(tail.head(params.warmup), params)
        state.update(tail.row(params.warmup, named=True))
        reference.append(time.perf_counter() - started)
    whole = []
    for _ in range(3):
        started = time.perf_counter()
        everything = klines.range(SYMBOL, M15).select("time", "open", "high", "low", "close",
                                                       "volume")  # fmt: skip
        compute(everything, params)
        whole.append(time.perf_counter() - started)
    ms, ref = median_ms(ours), median_ms(reference)
    verdict = "meets" if ms <= TARGET_MS else "MISSES"
    print(
        f"{name:10} history {history:>7,}: store one candle {ms:7.2f} ms "
        f"(compute part alone {ref:5.2f} ms: {ms / ref:4.1f}x; old read-all+recompute "
        f"{median_ms(whole):7.1f} ms) -> {verdict} {TARGET_MS:g} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--history", type=int, nargs="+", default=[15_000, 150_000])
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--postgres", default=DEFAULT_URL)
    args = parser.parse_args()
    frame = synthetic_candles(max(args.history) + args.repeat + 1, start=START)
    for history in args.history:
        with tempfile.TemporaryDirectory() as folder:
            engine = make_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
            bench("SQLite", engine, frame, history, args.repeat)
            engine.dispose()
        schema = f"bench_store_{uuid.uuid4().hex[:8]}"
        admin = make_engine(args.postgres)
        with admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
        try:
            engine = make_engine(args.postgres, search_path=schema)
            bench("PostgreSQL", engine, frame, history, args.repeat)
            engine.dispose()
        finally:
            with admin.begin() as connection:
                connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
            admin.dispose()


if __name__ == "__main__":
    main()
