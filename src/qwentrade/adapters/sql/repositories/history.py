"""SqlHistoryRepository: the account's orders (order_history) and positions
(position_history), with per-symbol statistics summed exactly."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import attrs
import sqlalchemy as sa

from qwentrade.adapters.sql.repositories._query import paged, renamed, within
from qwentrade.adapters.sql.schema import order_history, position_history
from qwentrade.adapters.sql.upsert import upsert_rows
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.records import (
    OrderRecord,
    PositionRecord,
    check_text,
)
from qwentrade.domain.stats import OrderStats, PositionStats

# position_history keeps OKX's c_time/u_time (its key); updated_at is the same fact as u_time
_POSITION_COLUMNS = {"created_at": "c_time", "updated_at": "u_time"}
_POSITION_FIELDS = {v: k for k, v in _POSITION_COLUMNS.items()}
FILLED_STATES = ("filled", "partially_filled")
_BATCH = 1_000


def _checked(records: Iterable[object], kind: type) -> list[dict[str, Any]]:
    rows = []
    for index, record in enumerate(records):
        if not isinstance(record, kind):
            raise InvalidInput(f"records[{index}]", f"expected {kind.__name__}, got {record!r}")
        rows.append(attrs.asdict(record, recurse=False))
    return rows


def _position_rows(records: Iterable[object]) -> list[dict[str, Any]]:
    return [
        {**renamed(values, _POSITION_COLUMNS), "updated_at": values["updated_at"]}
        for values in _checked(records, PositionRecord)
    ]


class SqlHistoryRepository:
    """HistoryRepository on PostgreSQL or SQLite (see ``ports.repositories``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def upsert_orders(self, orders: Sequence[OrderRecord]) -> int:
        return self._upsert(order_history, _checked(orders, OrderRecord))

    def upsert_positions(self, positions: Sequence[PositionRecord]) -> int:
        return self._upsert(position_history, _position_rows(positions))

    def _upsert(self, table: sa.Table, rows: list[dict[str, Any]]) -> int:
        written = 0
        with self._engine.begin() as connection:
            for start in range(0, len(rows), _BATCH):
                written += upsert_rows(connection, table, rows[start : start + _BATCH])
        return written

    def order(self, order_id: str) -> OrderRecord | None:
        found = self._orders(
            sa.select(order_history).where(
                order_history.c.order_id == check_text(order_id, "order_id")
            )
        )
        return found[0] if found else None

    def order_by_client_id(self, client_order_id: str) -> OrderRecord | None:
        statement = (
            sa.select(order_history)
            .where(order_history.c.cl_ord_id == check_text(client_order_id, "client_order_id"))
            .order_by(order_history.c.created_at.desc(), order_history.c.order_id.desc())
            .limit(1)
        )
        found = self._orders(statement)
        return found[0] if found else None

    def orders(
        self,
        symbol: str | None = None,
        status: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[OrderRecord]:
        t = order_history
        statement = within(sa.select(t), t.c.created_at, start, end)
        if symbol is not None:
            statement = statement.where(t.c.symbol == check_text(symbol, "symbol"))
        if status is not None:
            statement = statement.where(t.c.status == check_text(status, "status"))
        statement = statement.order_by(t.c.created_at.desc(), t.c.order_id.desc())
        return self._orders(paged(statement, limit, offset))

    def positions(
        self,
        symbol: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[PositionRecord]:
        t = position_history
        statement = within(sa.select(t), t.c.u_time, start, end)
        if symbol is not None:
            statement = statement.where(t.c.symbol == check_text(symbol, "symbol"))
        statement = statement.order_by(t.c.u_time.desc(), t.c.pos_id.desc())
        return self._positions(paged(statement, limit, offset))

    def latest_order_update(self, symbol: str | None = None) -> datetime | None:
        return self._latest(order_history.c.updated_at, symbol)

    def latest_position_update(self, symbol: str | None = None) -> datetime | None:
        return self._latest(position_history.c.u_time, symbol)

    def _latest(self, column: sa.Column, symbol: str | None) -> datetime | None:
        statement = sa.select(sa.func.max(column))
        if symbol is not None:
            statement = statement.where(column.table.c.symbol == check_text(symbol, "symbol"))
        with self._engine.connect() as connection:
            return connection.execute(statement).scalar()

    def order_stats(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[OrderStats]:
        # Summed in Python: SQLite keeps decimals as text and would sum them as doubles.
        t = order_history
        statement = within(
            sa.select(t.c.symbol, t.c.status, t.c.fee, t.c.pnl), t.c.created_at, start, end
        )
        totals: dict[str, list[Any]] = {}
        with self._engine.connect() as connection:
            for symbol, status, fee, pnl in connection.execute(statement):
                row = totals.setdefault(symbol, [0, 0, Decimal(0), Decimal(0)])
                row[0] += 1
                row[1] += status in FILLED_STATES
                row[2] += fee
                row[3] += pnl
        return [OrderStats(symbol, *totals[symbol]) for symbol in sorted(totals)]

    def position_stats(
        self, start: datetime | None = None, end: datetime | None = None
    ) -> list[PositionStats]:
        t = position_history
        columns = (t.c.symbol, t.c.pnl, t.c.realized_pnl, t.c.fee, t.c.funding_fee)
        statement = within(sa.select(*columns), t.c.u_time, start, end)
        totals: dict[str, list[Any]] = {}
        with self._engine.connect() as connection:
            for symbol, pnl, realized, fee, funding in connection.execute(statement):
                row = totals.setdefault(
                    symbol, [0, 0, 0, Decimal(0), Decimal(0), Decimal(0), Decimal(0)]
                )
                row[0] += 1
                row[1] += realized > 0
                row[2] += realized < 0
                row[3] += pnl
                row[4] += realized
                row[5] += fee
                row[6] += funding
        return [PositionStats(symbol, *totals[symbol]) for symbol in sorted(totals)]

    def _orders(self, statement: sa.Select) -> list[OrderRecord]:
        with self._engine.connect() as connection:
            rows = connection.execute(statement).mappings().all()
        return [OrderRecord(**row) for row in rows]

    def _positions(self, statement: sa.Select) -> list[PositionRecord]:
        with self._engine.connect() as connection:
            rows = connection.execute(statement).mappings().all()
        return [
            PositionRecord(
                **renamed({k: v for k, v in row.items() if k != "updated_at"}, _POSITION_FIELDS)
            )
            for row in rows
        ]
