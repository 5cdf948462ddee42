"""Trading state: pending orders (pending_order), order intents (order_intent), the
relations between entries, their protection, signals and pending orders
(trading_relations) and the trading leases (trading_lease). State changes are
compare-and-set, so two workers never both win."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from qwentrade.adapters.sql.repositories._query import paged
from qwentrade.adapters.sql.schema import (
    OPEN_RELATION_INDEX,
    order_intent,
    pending_order,
    trading_lease,
    trading_relations,
)
from qwentrade.adapters.sql.upsert import upsert_rows
from qwentrade.domain.errors import InvalidInput, PositionExists
from qwentrade.domain.records import (
    INTENT_STATES,
    PENDING_STATES,
    RELATION_STATUSES,
    SIDES,
    UNRESOLVED_INTENT_STATES,
    IntentRecord,
    LeaseRecord,
    PendingOrderRecord,
    RelationRecord,
    check_intent_identity,
    check_text,
)


def check_choice(value: str, allowed: tuple[str, ...], field: str) -> str:
    """``value`` if it is one of ``allowed``, else InvalidInput naming ``field``."""
    if value not in allowed:
        raise InvalidInput(field, f"{value!r} is not one of {', '.join(allowed)}")
    return value


def _values(record: object, kind: type) -> dict[str, Any]:
    if not isinstance(record, kind):
        raise InvalidInput(kind.__name__, f"expected a {kind.__name__}, got {record!r}")
    return attrs.asdict(record, recurse=False)


def _select(engine: sa.Engine, statement: sa.Select, kind: type) -> list[Any]:
    with engine.connect() as connection:
        rows = connection.execute(statement).mappings().all()
    return [kind(**row) for row in rows]


def _is_open_symbol_violation(error: sa.exc.IntegrityError) -> bool:
    """True when ``error`` is the one-OPEN-relation-per-symbol index refusing a row."""
    text = str(error.orig)
    return OPEN_RELATION_INDEX in text or "trading_relations.symbol" in text


def _writer(engine: sa.Engine) -> sa.Connection:
    """A connection whose transactions take SQLite's write lock at BEGIN (read-then-write)."""
    return engine.connect().execution_options(sqlite_begin="IMMEDIATE")


class SqlPendingRepository:
    """PendingRepository on PostgreSQL or SQLite (see ``ports.repositories``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def save(self, order: PendingOrderRecord, expected_status: str | None = None) -> bool:
        values = _values(order, PendingOrderRecord)
        with self._engine.begin() as connection:
            if expected_status is None:
                upsert_rows(connection, pending_order, [values])
                return True
            check_choice(expected_status, PENDING_STATES, "expected_status")
            t = pending_order
            statement = (
                sa.update(t)
                .where(t.c.id == order.id, t.c.status == expected_status)
                .values({k: v for k, v in values.items() if k != "id"})
            )
            return connection.execute(statement).rowcount == 1

    def get(self, order_id: str) -> PendingOrderRecord | None:
        statement = sa.select(pending_order).where(pending_order.c.id == order_id)
        found = _select(self._engine, statement, PendingOrderRecord)
        return found[0] if found else None

    def find(
        self,
        symbol: str | None = None,
        status: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[PendingOrderRecord]:
        t = pending_order
        statement = sa.select(t)
        if symbol is not None:
            statement = statement.where(t.c.symbol == check_text(symbol, "symbol"))
        if status is not None:
            statement = statement.where(
                t.c.status == check_choice(status, PENDING_STATES, "status")
            )
        statement = paged(statement.order_by(t.c.created_at.desc(), t.c.id.desc()), limit, offset)
        return _select(self._engine, statement, PendingOrderRecord)

    def open(self, symbol: str | None = None) -> list[PendingOrderRecord]:
        t = pending_order
        statement = sa.select(t).where(t.c.status == "PENDING")
        if symbol is not None:
            statement = statement.where(t.c.symbol == check_text(symbol, "symbol"))
        statement = statement.order_by(t.c.created_at, t.c.id)
        return _select(self._engine, statement, PendingOrderRecord)


class SqlIntentRepository:
    """IntentRepository on PostgreSQL or SQLite (see ``ports.repositories``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def add(self, intent: IntentRecord) -> IntentRecord:
        values = _values(intent, IntentRecord)
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        # DO NOTHING on ANY unique key (intent_id or client_order_id): two workers adding
        # the same intent at once may meet on either index first; naming only intent_id
        # made the loser of a race on client_order_id fail instead of reading the winner.
        statement = dialect.insert(order_intent).values(values).on_conflict_do_nothing()
        with _writer(self._engine) as connection, connection.begin():
            connection.execute(statement)
            stored = self._get(connection, intent.intent_id)
        if stored is None:
            other = self.by_client_order_id(intent.client_order_id)
            raise InvalidInput(
                "client_order_id",
                f"{intent.client_order_id} is already used by intent "
                f"{other.intent_id if other else '?'!r}: derive a new key for a new intent",
            )
        check_intent_identity(stored, intent)
        return stored

    def get(self, intent_id: str) -> IntentRecord | None:
        with self._engine.connect() as connection:
            return self._get(connection, intent_id)

    @staticmethod
    def _get(connection: sa.Connection, intent_id: str) -> IntentRecord | None:
        statement = sa.select(order_intent).where(order_intent.c.intent_id == intent_id)
        row = connection.execute(statement).mappings().one_or_none()
        return None if row is None else IntentRecord(**row)

    def by_client_order_id(self, client_order_id: str) -> IntentRecord | None:
        t = order_intent
        statement = sa.select(t).where(t.c.client_order_id == client_order_id)
        found = _select(self._engine, statement, IntentRecord)
        return found[0] if found else None

    def update(self, intent: IntentRecord, expected_state: str) -> bool:
        values = _values(intent, IntentRecord)
        check_choice(expected_state, INTENT_STATES, "expected_state")
        t = order_intent
        with _writer(self._engine) as connection, connection.begin():
            stored = self._get(connection, intent.intent_id)
            if stored is None:
                return False
            check_intent_identity(stored, intent)
            statement = (
                sa.update(t)
                .where(t.c.intent_id == intent.intent_id, t.c.state == expected_state)
                .values({k: v for k, v in values.items() if k != "intent_id"})
            )
            return connection.execute(statement).rowcount == 1

    def unresolved(self, symbol: str | None = None) -> list[IntentRecord]:
        t = order_intent
        statement = sa.select(t).where(t.c.state.in_(UNRESOLVED_INTENT_STATES))
        if symbol is not None:
            statement = statement.where(t.c.symbol == check_text(symbol, "symbol"))
        statement = statement.order_by(t.c.created_at, t.c.intent_id)
        return _select(self._engine, statement, IntentRecord)

    def count_by_state(self) -> dict[str, int]:
        t = order_intent
        statement = sa.select(t.c.state, sa.func.count()).group_by(t.c.state)
        with self._engine.connect() as connection:
            return {state: count for state, count in connection.execute(statement)}

    def find(
        self,
        symbol: str | None = None,
        state: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[IntentRecord]:
        t = order_intent
        statement = sa.select(t)
        if symbol is not None:
            statement = statement.where(t.c.symbol == check_text(symbol, "symbol"))
        if state is not None:
            statement = statement.where(t.c.state == check_choice(state, INTENT_STATES, "state"))
        statement = statement.order_by(t.c.created_at.desc(), t.c.intent_id.desc())
        return _select(self._engine, paged(statement, limit, offset), IntentRecord)


class SqlRelationRepository:
    """RelationRepository on PostgreSQL or SQLite (see ``ports.repositories``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def save(self, relation: RelationRecord) -> RelationRecord:
        values = _values(relation, RelationRecord)
        del values["id"]  # assigned by the database; kept when the entry order is stored
        t = trading_relations
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(t).values(values)
        statement = insert.on_conflict_do_update(
            index_elements=["client_order_id"],
            set_={name: insert.excluded[name] for name in values if name != "client_order_id"},
        ).returning(*t.c)
        try:
            with self._engine.begin() as connection:
                row = connection.execute(statement).mappings().one()
        except sa.exc.IntegrityError as e:
            if not _is_open_symbol_violation(e):
                raise
            raise PositionExists(
                relation.symbol,
                f"{relation.symbol} already has an open position (another OPEN relation): "
                "close it before opening a new one",
            ) from None
        return RelationRecord(**row)

    def get(self, client_order_id: str) -> RelationRecord | None:
        t = trading_relations
        statement = sa.select(t).where(t.c.client_order_id == client_order_id)
        found = _select(self._engine, statement, RelationRecord)
        return found[0] if found else None

    def by_algo_id(self, algo_id: str) -> RelationRecord | None:
        t = trading_relations
        check_text(algo_id, "algo_id")
        statement = (
            sa.select(t)
            .where(sa.or_(t.c.stop_loss_algo_id == algo_id, t.c.take_profit_algo_id == algo_id))
            .order_by(t.c.created_at.desc())
            .limit(1)
        )
        found = _select(self._engine, statement, RelationRecord)
        return found[0] if found else None

    def find(
        self,
        symbol: str | None = None,
        side: str | None = None,
        status: str | None = None,
        limit: int | None = 100,
        offset: int = 0,
    ) -> list[RelationRecord]:
        t = trading_relations
        statement = sa.select(t)
        if symbol is not None:
            statement = statement.where(t.c.symbol == check_text(symbol, "symbol"))
        if side is not None:
            statement = statement.where(t.c.side == check_choice(side, SIDES, "side"))
        if status is not None:
            statement = statement.where(
                t.c.status == check_choice(status, RELATION_STATUSES, "status")
            )
        statement = statement.order_by(t.c.created_at.desc(), t.c.client_order_id.desc())
        return _select(self._engine, paged(statement, limit, offset), RelationRecord)


class SqlLeaseRepository:
    """LeaseRepository on PostgreSQL or SQLite (see ``ports.repositories``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def acquire(self, symbol: str, owner: str, now: datetime, expires_at: datetime) -> LeaseRecord:
        wanted = LeaseRecord(symbol, owner, now, expires_at)
        t = trading_lease
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        insert = dialect.insert(t).values(attrs.asdict(wanted))
        statement = insert.on_conflict_do_update(
            index_elements=["symbol"],
            set_={
                "owner": insert.excluded.owner,
                "acquired_at": sa.case(
                    (t.c.owner == insert.excluded.owner, t.c.acquired_at),
                    else_=insert.excluded.acquired_at,
                ),
                "expires_at": insert.excluded.expires_at,
            },
            where=sa.or_(t.c.owner == insert.excluded.owner, t.c.expires_at <= wanted.acquired_at),
        )
        with _writer(self._engine) as connection, connection.begin():
            connection.execute(statement)
            row = connection.execute(sa.select(t).where(t.c.symbol == symbol)).mappings().one()
        return LeaseRecord(**row)

    def release(self, symbol: str, owner: str) -> bool:
        t = trading_lease
        statement = sa.delete(t).where(t.c.symbol == symbol, t.c.owner == owner)
        with self._engine.begin() as connection:
            return connection.execute(statement).rowcount == 1

    def get(self, symbol: str) -> LeaseRecord | None:
        statement = sa.select(trading_lease).where(trading_lease.c.symbol == symbol)
        found = _select(self._engine, statement, LeaseRecord)
        return found[0] if found else None
