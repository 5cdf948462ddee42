"""SqlMarketSeriesRepository: funding, open interest, sentiment, order book, ETF flows,
fear & greed and liquidations, one table each."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import sqlalchemy as sa

from qwentrade.adapters.sql import schema
from qwentrade.adapters.sql.repositories._query import paged
from qwentrade.adapters.sql.upsert import upsert_rows
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import (
    BookSnapshot,
    EtfFlow,
    FearGreed,
    FundingRate,
    Liquidation,
    OpenInterest,
    Sentiment,
)
from qwentrade.domain.records import check_market_kind, check_span, check_text
from qwentrade.domain.stats import SeriesStats
from qwentrade.ports.repositories import M, MarketItem


@attrs.frozen
class _Kind:
    table: sa.Table
    to_row: Callable[[Any], dict[str, Any]]
    from_row: Callable[[dict[str, Any]], Any]

    @property
    def time(self) -> sa.Column:
        return self.table.c.date if "date" in self.table.c else self.table.c.time

    @property
    def symbol(self) -> sa.Column | None:
        return self.table.c.get("symbol")


def _fields(item: object) -> dict[str, Any]:
    return attrs.asdict(item, recurse=False)  # type: ignore[arg-type]


def _levels(levels: tuple[tuple[Decimal, Decimal], ...]) -> list[list[str]]:
    return [[str(price), str(size)] for price, size in levels]


def _book_row(item: BookSnapshot) -> dict[str, Any]:
    return {**_fields(item), "bids": _levels(item.bids), "asks": _levels(item.asks)}


def _book(row: dict[str, Any]) -> BookSnapshot:
    def levels(value: list[list[str]]) -> tuple[tuple[Decimal, Decimal], ...]:
        return tuple((Decimal(price), Decimal(size)) for price, size in value)

    return BookSnapshot(row["symbol"], row["time"], levels(row["bids"]), levels(row["asks"]))


def _funding_row(item: FundingRate) -> dict[str, Any]:
    return {
        "symbol": item.symbol,
        "time": item.time,
        "funding_rate": item.rate,
        "realized_rate": item.realized_rate,
        "next_funding_time": item.next_funding_time,
    }


def _funding(row: dict[str, Any]) -> FundingRate:
    return FundingRate(
        row["symbol"],
        row["time"],
        row["funding_rate"],
        row["realized_rate"],
        row["next_funding_time"],
    )


KINDS: dict[type, _Kind] = {
    FundingRate: _Kind(schema.funding_rate, _funding_row, _funding),
    OpenInterest: _Kind(schema.open_interest, _fields, lambda row: OpenInterest(**row)),
    Sentiment: _Kind(schema.market_sentiment, _fields, lambda row: Sentiment(**row)),
    BookSnapshot: _Kind(schema.order_book, _book_row, _book),
    EtfFlow: _Kind(schema.etf_flow, _fields, lambda row: EtfFlow(**row)),
    FearGreed: _Kind(schema.fear_greed, _fields, lambda row: FearGreed(**row)),
    Liquidation: _Kind(schema.liquidation, _fields, lambda row: Liquidation(**row)),
}


def _bound(kind: _Kind, value: datetime | None) -> Any:
    """A span bound in the kind's time column. Dates are filed under midnight UTC, so the
    first date at or after ``value`` is its own date only when ``value`` is midnight."""
    if value is None or "date" not in kind.table.c:
        return value
    midnight = value.replace(hour=0, minute=0, second=0, microsecond=0)
    return value.date() if value == midnight else value.date() + timedelta(days=1)


class SqlMarketSeriesRepository:
    """MarketSeriesRepository on PostgreSQL or SQLite (see ``ports.repositories``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def upsert(self, items: Sequence[MarketItem]) -> int:
        grouped: dict[type, list[dict[str, Any]]] = {}
        for index, item in enumerate(items):
            kind = KINDS.get(type(item))
            if kind is None:
                raise InvalidInput(
                    f"items[{index}]", f"{type(item).__name__} is not a market series item"
                )
            grouped.setdefault(type(item), []).append(kind.to_row(item))
        written = 0
        with self._engine.begin() as connection:
            for cls, rows in grouped.items():
                written += upsert_rows(connection, KINDS[cls].table, rows)
        return written

    def range(
        self,
        kind: type[M],
        symbol: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[M]:
        spec = KINDS[check_market_kind(kind)]
        start, end = check_span(start, end)
        statement = sa.select(*spec.table.c)
        if symbol is not None and spec.symbol is not None:
            statement = statement.where(spec.symbol == check_text(symbol, "symbol"))
        if start is not None:
            statement = statement.where(spec.time >= _bound(spec, start))
        if end is not None:
            statement = statement.where(spec.time < _bound(spec, end))
        order = [spec.time.desc() if newest_first else spec.time]
        if spec.symbol is not None:
            order.append(spec.symbol)
        statement = paged(statement.order_by(*order), limit, offset)
        with self._engine.connect() as connection:
            rows = connection.execute(statement).mappings().all()
        return [spec.from_row(dict(row)) for row in rows]

    def latest(self, kind: type[M], symbol: str | None = None) -> M | None:
        found = self.range(kind, symbol, limit=1, newest_first=True)
        return found[0] if found else None

    def stats(self, kind: type[M]) -> list[SeriesStats]:
        spec = KINDS[check_market_kind(kind)]
        symbol = spec.symbol if spec.symbol is not None else sa.literal("global")
        statement = sa.select(
            symbol, sa.func.count(), sa.func.min(spec.time), sa.func.max(spec.time)
        )
        if spec.symbol is not None:
            statement = statement.group_by(spec.symbol).order_by(spec.symbol)
        with self._engine.connect() as connection:
            rows = connection.execute(statement).all()
        return [
            SeriesStats(name, count, _as_time(first), _as_time(last))
            for name, count, first, last in rows
            if count
        ]


def _as_time(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime(value.year, value.month, value.day, tzinfo=UTC)  # a date: midnight UTC
