"""SqlSignalRepository: detected signals (market_signal)."""

from __future__ import annotations

from datetime import datetime

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from qwentrade.adapters.sql.repositories._query import paged, within
from qwentrade.adapters.sql.schema import market_signal
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import require_utc
from qwentrade.domain.records import SIGNAL_STATUSES, SignalRecord, check_text

_DETECTION = ("score", "price", "details", "expire_at")  # what re-detecting a candle replaces


def check_status(status: str, field: str = "status") -> str:
    """``status`` if it is a signal status, else InvalidInput naming ``field``."""
    if status not in SIGNAL_STATUSES:
        raise InvalidInput(field, f"{status!r} is not one of {', '.join(SIGNAL_STATUSES)}")
    return status


class SqlSignalRepository:
    """SignalRepository on PostgreSQL or SQLite (see ``ports.repositories``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def add(self, signal: SignalRecord) -> SignalRecord:
        if not isinstance(signal, SignalRecord):
            raise InvalidInput("signal", f"expected a SignalRecord, got {signal!r}")
        values = attrs.asdict(signal, recurse=False)
        del values["id"]
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(market_signal).values(values)
        statement = insert.on_conflict_do_update(
            index_elements=["symbol", "time", "signal_type"],
            set_={name: insert.excluded[name] for name in _DETECTION},
        ).returning(*market_signal.c)
        with self._engine.begin() as connection:
            row = connection.execute(statement).mappings().one()
        return SignalRecord(**row)

    def get(self, signal_id: int) -> SignalRecord | None:
        found = self._select(sa.select(market_signal).where(market_signal.c.id == signal_id))
        return found[0] if found else None

    def find(
        self,
        symbol: str | None = None,
        status: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[SignalRecord]:
        t = market_signal
        statement = within(sa.select(t), t.c.time, start, end)
        if symbol is not None:
            statement = statement.where(t.c.symbol == check_text(symbol, "symbol"))
        if status is not None:
            statement = statement.where(t.c.status == check_status(status))
        return self._select(
            paged(statement.order_by(t.c.time.desc(), t.c.id.desc()), limit, offset)
        )

    def active(self, now: datetime, symbol: str | None = None) -> list[SignalRecord]:
        t = market_signal
        statement = sa.select(t).where(
            t.c.status == "ACTIVE", t.c.expire_at > require_utc(now, "now")
        )
        if symbol is not None:
            statement = statement.where(t.c.symbol == check_text(symbol, "symbol"))
        return self._select(statement.order_by(t.c.time.desc(), t.c.id.desc()))

    def set_status(self, signal_id: int, status: str, expected: str | None = None) -> bool:
        t = market_signal
        statement = sa.update(t).where(t.c.id == signal_id).values(status=check_status(status))
        if expected is not None:
            statement = statement.where(t.c.status == check_status(expected, "expected"))
        with self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def expire(self, now: datetime) -> int:
        t = market_signal
        statement = (
            sa.update(t)
            .where(t.c.status == "ACTIVE", t.c.expire_at <= require_utc(now, "now"))
            .values(status="EXPIRED")
        )
        with self._engine.begin() as connection:
            return connection.execute(statement).rowcount

    def _select(self, statement: sa.Select) -> list[SignalRecord]:
        with self._engine.connect() as connection:
            rows = connection.execute(statement).mappings().all()
        return [SignalRecord(**row) for row in rows]
