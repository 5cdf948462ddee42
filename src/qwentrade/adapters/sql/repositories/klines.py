"""SqlKlineRepository: candles with indicators in klines_15m / klines_4h / klines_1d."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime

import polars as pl
import sqlalchemy as sa

from qwentrade.adapters.sql.klines_write import (
    SqlSeriesWriter,
    locked_transaction,
    select_klines,
    series_writer,
    write_klines,
)
from qwentrade.adapters.sql.repositories.kline_index import SqlKlineIndex
from qwentrade.adapters.sql.schema import kline_table
from qwentrade.domain.market import Timeframe
from qwentrade.domain.records import check_text
from qwentrade.domain.series import (
    normalize_klines,
    require_stored_timeframe,
)
from qwentrade.domain.stats import SeriesStats


class SqlKlineRepository:
    """KlineRepository on PostgreSQL or SQLite (see ``ports.repositories``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def upsert(self, timeframe: Timeframe, frame: pl.DataFrame, symbol: str | None = None) -> int:
        timeframe = require_stored_timeframe(timeframe)
        rows = normalize_klines(timeframe, frame, symbol)
        if rows.is_empty():
            return 0
        symbols = rows["symbol"].unique().to_list()
        with locked_transaction(self._engine, timeframe, symbols) as connection:
            return write_klines(connection, timeframe, rows)

    def writing(self, symbol: str, timeframe: Timeframe) -> AbstractContextManager[SqlSeriesWriter]:
        return series_writer(self._engine, symbol, timeframe)

    def range(
        self,
        symbol: str,
        timeframe: Timeframe,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> pl.DataFrame:
        timeframe = require_stored_timeframe(timeframe)
        with self._engine.connect() as connection:
            return select_klines(
                connection, timeframe, symbol, start, end, limit, newest_first, offset
            )

    def latest(self, symbol: str, timeframe: Timeframe, count: int = 1) -> pl.DataFrame:
        return self.range(symbol, timeframe, limit=count, newest_first=True).reverse()

    def latest_time(self, symbol: str, timeframe: Timeframe) -> datetime | None:
        table = kline_table(timeframe)
        statement = sa.select(sa.func.max(table.c.time)).where(
            table.c.symbol == check_text(symbol, "symbol")
        )
        with self._engine.connect() as connection:
            value = connection.execute(statement).scalar()
        return value

    def first_time(self, symbol: str, timeframe: Timeframe) -> datetime | None:
        return SqlKlineIndex(self._engine).first_time(symbol, timeframe)

    def missing_closes(
        self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime
    ) -> list[datetime]:
        return SqlKlineIndex(self._engine).missing_closes(symbol, timeframe, start, end)

    def stats(self, timeframe: Timeframe) -> list[SeriesStats]:
        return SqlKlineIndex(self._engine).stats(timeframe)
