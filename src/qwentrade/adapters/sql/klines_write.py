"""One writer per candle series, and one transaction per write.

A candle series is (table, symbol). Whoever writes it holds its lock for the whole
read-compute-write, across processes:

1. PostgreSQL: ``pg_advisory_xact_lock(table key, symbol key)`` (the two-key form, a
   keyspace of its own), taken in the sorted order of the symbols so two writers of
   several series never deadlock; released by the commit or rollback.
2. SQLite: ``BEGIN IMMEDIATE`` takes the database's write lock up front (the busy
   timeout waits for it), so no other writer commits between our read and our write.
3. Everything written inside the block commits together at its end, or not at all: a
   kill -9 leaves the series as it was before the block.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime

import polars as pl
import sqlalchemy as sa

from qwentrade.adapters.sql.pgcopy import upsert_klines_postgres
from qwentrade.adapters.sql.repositories._query import paged, within
from qwentrade.adapters.sql.schema import kline_table
from qwentrade.adapters.sql.upsert import upsert_klines_sqlite
from qwentrade.domain.market import Timeframe
from qwentrade.domain.records import check_text
from qwentrade.domain.series import (
    kline_schema,
    normalize_klines,
    require_stored_timeframe,
    step_us,
)

ANALYZE_ROWS = 10_000  # a PostgreSQL write this large refreshes the table's statistics


def _signed32(text: str) -> int:
    value = zlib.crc32(text.encode())
    return value - (1 << 32) if value >= 1 << 31 else value


def series_lock_keys(timeframe: Timeframe, symbol: str) -> tuple[int, int]:
    """The two int4 keys of a series' advisory lock."""
    return _signed32(f"qwentrade.{kline_table(timeframe).name}"), _signed32(symbol)


@contextmanager
def locked_transaction(
    engine: sa.Engine, timeframe: Timeframe, symbols: Sequence[str]
) -> Iterator[sa.Connection]:
    """A connection in a transaction holding the locks of ``symbols``' series."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            with connection.begin():
                for symbol in sorted(set(symbols)):
                    table_key, symbol_key = series_lock_keys(timeframe, symbol)
                    connection.execute(
                        sa.text("SELECT pg_advisory_xact_lock(:table, :symbol)"),
                        {"table": table_key, "symbol": symbol_key},
                    )
                yield connection
        else:
            connection.execution_options(sqlite_begin="IMMEDIATE")
            with connection.begin():
                yield connection


def write_klines(connection: sa.Connection, timeframe: Timeframe, rows: pl.DataFrame) -> int:
    """Upsert normalised rows inside ``connection``'s transaction."""
    if rows.is_empty():
        return 0
    table = kline_table(timeframe)
    if connection.dialect.name == "postgresql":
        written = upsert_klines_postgres(connection, table, rows, step_us(timeframe))
        if written >= ANALYZE_ROWS:
            # Fresh statistics now, not when autovacuum gets to it: with the estimates of
            # an emptier table the planner answers "the last 615 candles" by sorting the
            # whole series (40 ms at 150k rows) instead of walking the key backwards.
            connection.exec_driver_sql(f'ANALYZE "{table.name}"')
        return written
    return upsert_klines_sqlite(connection, table, rows)


def select_klines(
    connection: sa.Connection,
    timeframe: Timeframe,
    symbol: str,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int | None = None,
    newest_first: bool = False,
    offset: int = 0,
) -> pl.DataFrame:
    """Candles of one series on ``connection`` (sees its own uncommitted writes)."""
    table = kline_table(timeframe)
    order = table.c.time.desc() if newest_first else table.c.time
    statement = sa.select(*table.c).where(table.c.symbol == check_text(symbol, "symbol"))
    statement = paged(within(statement, table.c.time, start, end).order_by(order), limit, offset)
    rows = connection.execute(statement).all()
    return pl.DataFrame(rows, schema=kline_schema(timeframe), orient="row")


class SqlSeriesWriter:
    """The series writer of ``KlineRepository.writing`` on one locked connection."""

    def __init__(self, connection: sa.Connection, symbol: str, timeframe: Timeframe) -> None:
        self._connection = connection
        self._symbol = symbol
        self._timeframe = timeframe

    def range(
        self,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        newest_first: bool = False,
    ) -> pl.DataFrame:
        return select_klines(
            self._connection, self._timeframe, self._symbol, start, end, limit, newest_first
        )

    def upsert(self, frame: pl.DataFrame) -> int:
        rows = normalize_klines(self._timeframe, frame, self._symbol)
        # normalize_klines refuses a frame of another symbol than the one held
        return write_klines(self._connection, self._timeframe, rows)


@contextmanager
def series_writer(
    engine: sa.Engine, symbol: str, timeframe: Timeframe
) -> Iterator[SqlSeriesWriter]:
    """Hold ``symbol``'s ``timeframe`` series for a read-compute-write (see the module)."""
    timeframe = require_stored_timeframe(timeframe)
    check_text(symbol, "symbol")
    with locked_transaction(engine, timeframe, [symbol]) as connection:
        yield SqlSeriesWriter(connection, symbol, timeframe)
