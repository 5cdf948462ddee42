"""Column types that behave the same on PostgreSQL and SQLite.

- :class:`UtcDateTime`: ``timestamptz`` on PostgreSQL; on SQLite the UTC wall time as
  text (SQLAlchemy's fixed-width ``YYYY-MM-DD HH:MM:SS.ffffff``, which sorts correctly).
  Writes require aware datetimes; reads are always aware UTC.
- :class:`ExactDecimal`: ``NUMERIC`` on PostgreSQL; text on SQLite (whose NUMERIC affinity
  would round to a double). ``Decimal`` in, the same ``Decimal`` out.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

from qwentrade.domain.market import require_utc
from qwentrade.domain.numbers import to_decimal

SQLITE_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # what SQLAlchemy's SQLite DATETIME stores


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC datetime; a naive one is refused."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = require_utc(value, "time")
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQLite text (e.g. from a func expression)
            value = datetime.fromisoformat(value)
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal: NUMERIC on PostgreSQL, text on SQLite."""

    impl = sa.Numeric
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> sa.types.TypeEngine[Any]:
        if dialect.name == "sqlite":
            return dialect.type_descriptor(sa.String())
        return dialect.type_descriptor(sa.Numeric(asdecimal=True))

    def process_bind_param(self, value: Any, dialect: Dialect) -> Decimal | str | None:
        if value is None:
            return None
        number = to_decimal(value, "decimal")
        return str(number) if dialect.name == "sqlite" else number

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return value if isinstance(value, Decimal) else Decimal(str(value))
