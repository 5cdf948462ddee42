"""SqlKlineIndex: which candles a klines table holds, answered by the database.

``missing_closes`` sends no stored times to Python:

1. one aggregate query, count / min / max of the series' open times in the span. When the
   count is the number of candles the span should hold, nothing is missing (the common
   no-op rerun: one indexed range count); when it is 0, everything is;
2. otherwise one window query, ``LAG(time)`` over the span, returning only the pairs of
   stored neighbours with candles missing between them; ``domain.series.missing_in_gaps``
   turns those gaps (and the ones before the first and after the last stored candle) into
   open times.

Both rely on what the writers guarantee: every stored time is an open time of its
timeframe (``upsert`` refuses others) and (symbol, time) is the primary key. Times are
compared in SQL as the column stores them (``timestamptz`` on PostgreSQL; fixed-width
UTC text on SQLite, which sorts like the time) and differenced as epoch seconds.

No polars or numpy here: a no-op backfill imports this module and little else.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from qwentrade.adapters.sql.repositories._query import within
from qwentrade.adapters.sql.schema import kline_table
from qwentrade.adapters.sql.types import UtcDateTime
from qwentrade.domain.market import Timeframe, TimeRange
from qwentrade.domain.records import check_text
from qwentrade.domain.series import (
    Gap,
    missing_in_gaps,
    open_count,
    require_stored_timeframe,
)
from qwentrade.domain.stats import SeriesStats


def _epoch_seconds(column: sa.ColumnElement, dialect: str) -> sa.ColumnElement:
    if dialect == "postgresql":
        return sa.extract("epoch", column)
    # SQLite: the stored text 'YYYY-MM-DD HH:MM:SS.ffffff' is a time strftime reads.
    return sa.cast(sa.func.strftime("%s", column), sa.Integer)


class SqlKlineIndex:
    """The read-only questions of ``KlineRepository`` about stored open times (see
    ``ports.repositories``): ``missing_closes`` and ``stats``."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def missing_closes(
        self, symbol: str, timeframe: Timeframe, start: datetime, end: datetime
    ) -> list[datetime]:
        timeframe = require_stored_timeframe(timeframe)
        span = TimeRange(start, end)
        table = kline_table(timeframe)
        series = table.c.symbol == check_text(symbol, "symbol")
        expected = open_count(timeframe, span)
        if expected == 0:
            return []
        bounds = within(
            sa.select(sa.func.count(), sa.func.min(table.c.time), sa.func.max(table.c.time)),
            table.c.time,
            span.start,
            span.end,
        ).where(series)
        with self._engine.connect() as connection:
            count, first, last = connection.execute(bounds).one()
            if count >= expected:
                return []
            if count == 0:
                gaps: list[Gap] = [(None, None)]
            else:
                inner = self._inner_gaps(connection, table, series, span, timeframe)
                gaps = [(None, first), *inner, (last, None)]
        return missing_in_gaps(timeframe, span, gaps)

    def _inner_gaps(
        self,
        connection: sa.Connection,
        table: sa.Table,
        series: sa.ColumnElement[bool],
        span: TimeRange,
        timeframe: Timeframe,
    ) -> list[Gap]:
        dialect = connection.dialect.name
        previous = sa.func.lag(table.c.time, type_=UtcDateTime()).over(order_by=table.c.time)
        neighbours = (
            within(
                sa.select(table.c.time.label("time"), previous.label("previous")),
                table.c.time,
                span.start,
                span.end,
            )
            .where(series)
            .subquery()
        )
        step = int(timeframe.duration.total_seconds())
        apart = _epoch_seconds(neighbours.c.time, dialect) - _epoch_seconds(
            neighbours.c.previous, dialect
        )
        statement = (
            sa.select(neighbours.c.previous, neighbours.c.time)
            .where(neighbours.c.previous.is_not(None), apart > step)
            .order_by(neighbours.c.time)
        )
        return [(before, after) for before, after in connection.execute(statement)]

    def first_time(self, symbol: str, timeframe: Timeframe) -> datetime | None:
        table = kline_table(require_stored_timeframe(timeframe))
        statement = sa.select(sa.func.min(table.c.time)).where(
            table.c.symbol == check_text(symbol, "symbol")
        )
        with self._engine.connect() as connection:
            return connection.execute(statement).scalar()

    def stats(self, timeframe: Timeframe) -> list[SeriesStats]:
        table = kline_table(require_stored_timeframe(timeframe))
        statement = (
            sa.select(
                table.c.symbol,
                sa.func.count(),
                sa.func.min(table.c.time),
                sa.func.max(table.c.time),
            )
            .group_by(table.c.symbol)
            .order_by(table.c.symbol)
        )
        with self._engine.connect() as connection:
            rows = connection.execute(statement).all()
        return [SeriesStats(s, n, lo, hi) for s, n, lo, hi in rows]
