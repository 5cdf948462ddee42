"""Read what qwentrade stored, as polars DataFrames, with no service running.

``qwentrade.open(url)`` opens a database written by qwentrade (a SQLite file or a
PostgreSQL URL) for reading only: PostgreSQL transactions are read-only, a SQLite file is
opened with ``mode=ro`` and left as it was (bytes, journal mode, no new ``-wal``/``-shm``
files); nothing is migrated. Candles come column-wise through ADBC drivers:

```python
import qwentrade

with qwentrade.open("sqlite:///qwentrade.db") as db:
    candles = db.klines("BTC-USDT-SWAP", "15m", start="2024-01-01", end="2024-02-01")
    print(candles.select("time", "close", "rsi_7", "macd_line").tail(3))
    signals = db.signals("BTC-USDT-SWAP")  # details is JSON text: .str.json_decode()
    orders = db.orders(start="2024-01-01")  # prices and amounts as exact Decimals
    funding = db.market("funding_rate", "BTC-USDT-SWAP")
    print(db.tables())  # what market() can read
```

Times are UTC: ``start``/``end`` take aware datetimes, dates, or ISO strings (a string or
date without an offset means UTC); spans are half-open, ``start <= time < end``.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from types import TracebackType
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import URL

from qwentrade.adapters.sql import schema
from qwentrade.adapters.sql.engine import DatabaseNotFound, make_engine, normalize_url
from qwentrade.adapters.sql.fastread import ArrowKlineReader, FastReadUnavailable
from qwentrade.adapters.sql.migrate import SchemaVersionError, check_revision
from qwentrade.adapters.sql.readonly import sqlite_file
from qwentrade.adapters.sql.repositories import SqlKlineRepository
from qwentrade.adapters.sql.types import ExactDecimal, UtcDateTime
from qwentrade.domain.errors import DomainError, InvalidInput
from qwentrade.domain.market import Timeframe, require_utc

TimeLike = datetime | date | str | None
_OWN_TABLES = {
    "market_signal": ("symbol", "time"),
    "order_history": ("symbol", "created_at"),
    "position_history": ("symbol", "u_time"),
}


def open(url: str | URL) -> Reader:
    """A :class:`Reader` on the database at ``url`` (``sqlite:///path`` or PostgreSQL).

    Every refusal is one error with a message that says what to do: InvalidInput for a
    URL that is not a database URL, DatabaseNotFound (also a FileNotFoundError) for a
    SQLite file that does not exist, DatabaseUnavailable (an InvalidInput) for a server
    that cannot be reached or a database that does not exist there, and SchemaVersionError
    when the database has no qwentrade schema or a newer one than this qwentrade.
    """
    try:
        return _open(url)
    except DomainError as e:
        # Raised afresh, so that no SQLAlchemy or driver traceback hangs from it.
        raise _fresh(e) from None


def _open(url: str | URL) -> Reader:
    parsed = normalize_url(url)
    path = sqlite_file(parsed) if parsed.get_backend_name() == "sqlite" else None
    if path is not None and not path.exists() and path.parent.is_dir():
        raise DatabaseNotFound(
            "url",
            f"no qwentrade database at {path}: start the service or run "
            "`qwentrade db upgrade` first",
        )
    engine = make_engine(parsed, read_only=True)
    try:
        if check_revision(engine) is None:
            raise SchemaVersionError(
                f"{engine.url.render_as_string()} has no qwentrade schema: run "
                "`qwentrade db upgrade` (or start the service) first"
            )
    except BaseException:
        engine.dispose()
        raise
    return Reader(engine)


def _fresh(error: DomainError) -> DomainError:
    if isinstance(error, InvalidInput):
        fresh: DomainError = type(error)("url", error.message)
    else:
        fresh = type(error)(str(error))
    return fresh


class Reader:
    """Read-only access to a qwentrade database; close it (or use ``with``) when done."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        self._klines: ArrowKlineReader | SqlKlineRepository
        try:
            self._klines = ArrowKlineReader(engine)
        except FastReadUnavailable:  # e.g. in-memory SQLite: row by row through SQLAlchemy
            self._klines = SqlKlineRepository(engine)

    def klines(
        self,
        symbol: str,
        timeframe: Timeframe | str = "15m",
        start: TimeLike = None,
        end: TimeLike = None,
        limit: int | None = None,
    ) -> pl.DataFrame:
        """Candles with every indicator column, oldest first (``timeframe``: 15m, 4h, 1d)."""
        return self._klines.range(
            symbol, timeframe, _time(start, "start"), _time(end, "end"), limit=limit
        )

    def signals(
        self,
        symbol: str | None = None,
        start: TimeLike = None,
        end: TimeLike = None,
        status: str | None = None,
    ) -> pl.DataFrame:
        """Detected signals (table ``market_signal``) by candle time; ``status`` e.g. ACTIVE."""
        extra = [] if status is None else [schema.market_signal.c.status == status]
        return self._read("market_signal", symbol, start, end, extra)

    def orders(
        self,
        symbol: str | None = None,
        start: TimeLike = None,
        end: TimeLike = None,
        status: str | None = None,
    ) -> pl.DataFrame:
        """The account's orders (``order_history``) by creation time (``created_at``);
        ``status`` is OKX's order state, e.g. ``filled``."""
        extra = [] if status is None else [schema.order_history.c.status == status]
        return self._read("order_history", symbol, start, end, extra)

    def positions(
        self, symbol: str | None = None, start: TimeLike = None, end: TimeLike = None
    ) -> pl.DataFrame:
        """Closed position records (``position_history``) by update time (``u_time``)."""
        return self._read("position_history", symbol, start, end)

    def market(
        self, table: str, symbol: str | None = None, start: TimeLike = None, end: TimeLike = None
    ) -> pl.DataFrame:
        """A market-data table (see :meth:`tables`) by time; ``etf_flow`` by date."""
        if table not in schema.MARKET_TABLES:
            raise InvalidInput("table", f"{table!r} is not one of {', '.join(self.tables())}")
        return self._read(table, symbol, start, end)

    @staticmethod
    def tables() -> list[str]:
        """The market-data tables :meth:`market` reads."""
        return sorted(schema.MARKET_TABLES)

    def close(self) -> None:
        """Release the database connections."""
        self._engine.dispose()

    def __enter__(self) -> Reader:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _read(
        self,
        name: str,
        symbol: str | None,
        start: TimeLike,
        end: TimeLike,
        extra: list[sa.ColumnElement[bool]] | None = None,
    ) -> pl.DataFrame:
        table = schema.metadata.tables[name]
        time_name = _OWN_TABLES.get(name, (None, "date" if "date" in table.c else "time"))[1]
        time = table.c[time_name]
        statement = sa.select(table).where(*(extra or []))
        if symbol is not None and "symbol" in table.c:
            statement = statement.where(table.c.symbol == symbol)
        lower, upper = _time(start, "start"), _time(end, "end")
        if lower is not None:
            statement = statement.where(time >= (_day(lower) if time_name == "date" else lower))
        if upper is not None:
            statement = statement.where(time < (_day(upper) if time_name == "date" else upper))
        order = [time, table.c.symbol] if "symbol" in table.c else [time]
        with self._engine.connect() as connection:
            rows = connection.execute(statement.order_by(*order)).all()
        return _frame(table, rows)


def _time(value: TimeLike, field: str) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return None if value is None else require_utc(value, field)
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day, tzinfo=UTC)
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(field, f"{value!r} is not an ISO date or time") from None
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise InvalidInput(field, f"expected a datetime, date or ISO string, got {value!r}")


def _day(value: datetime) -> date:
    """First date filed at or after ``value`` (dates are filed under midnight UTC)."""
    day = value.date()
    midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return day if value == midnight else date.fromordinal(day.toordinal() + 1)


def _dtype(column: sa.Column) -> pl.DataType | None:
    kind = column.type
    if isinstance(kind, UtcDateTime):
        return pl.Datetime("us", "UTC")
    if isinstance(kind, ExactDecimal):
        return None  # polars infers the scale from the values
    if isinstance(kind, sa.JSON | sa.String | sa.Text):
        return pl.String()
    if isinstance(kind, sa.Boolean):
        return pl.Boolean()
    if isinstance(kind, sa.Integer):
        return pl.Int64()
    if isinstance(kind, sa.Date):
        return pl.Date()
    return pl.Float64()


def _frame(table: sa.Table, rows: list[Any]) -> pl.DataFrame:
    names = [column.name for column in table.columns]
    dtypes = {column.name: _dtype(column) for column in table.columns}
    json_columns = [c.name for c in table.columns if isinstance(c.type, sa.JSON)]
    if json_columns:
        positions = [names.index(name) for name in json_columns]
        rows = [_json_text(row, positions) for row in rows]
    if not rows:
        return pl.DataFrame(
            schema={name: dtype or pl.Decimal(38, 18) for name, dtype in dtypes.items()}
        )
    known = {name: dtype for name, dtype in dtypes.items() if dtype is not None}
    return pl.DataFrame(
        rows, schema=names, schema_overrides=known, orient="row", infer_schema_length=None
    )


def _json_text(row: Any, positions: list[int]) -> tuple[Any, ...]:
    values = list(row)
    for index in positions:
        values[index] = json.dumps(values[index], separators=(",", ":"))
    return tuple(values)
