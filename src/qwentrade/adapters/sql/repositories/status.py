"""SqlStatusRepository: component and job health (system_status), counted atomically."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from qwentrade.adapters.sql.schema import system_status
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.market import require_utc
from qwentrade.domain.records import COMPONENT_STATES, StatusRecord, check_text


def check_run(component: str, at: datetime, rows: int) -> datetime:
    """Check a run's arguments; returns ``at`` as aware UTC."""
    check_text(component, "component")
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise InvalidInput("rows", f"must be a non-negative integer, got {rows!r}")
    return require_utc(at, "at")


class SqlStatusRepository:
    """StatusRepository on PostgreSQL or SQLite (see ``ports.repositories``)."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine

    def _insert(self):
        dialect = postgresql if self._engine.dialect.name == "postgresql" else sqlite
        return dialect.insert(system_status)

    def record_run(
        self, component: str, at: datetime, ok: bool, rows: int = 0, error: str = ""
    ) -> StatusRecord:
        at = check_run(component, at, rows)
        t = system_status
        first = {
            "key": component,
            "value": "OK" if ok else "FAILING",
            "last_run_at": at,
            "last_success_at": at if ok else None,
            "last_error_at": None if ok else at,
            "last_error": "" if ok else error,
            "runs": 1,
            "successes": int(ok),
            "failures": int(not ok),
            "consecutive_failures": int(not ok),
            "rows": rows,
            "note": "",
            "updated_at": at,
        }
        insert = self._insert().values(first)
        changes = {
            "value": insert.excluded["value"],
            "last_run_at": at,
            "runs": t.c.runs + 1,
            "successes": t.c.successes + int(ok),
            "failures": t.c.failures + int(not ok),
            "consecutive_failures": 0 if ok else t.c.consecutive_failures + 1,
            "rows": t.c.rows + rows,
            "updated_at": at,
        }
        if ok:
            changes["last_success_at"] = at
        else:
            changes.update(last_error_at=at, last_error=error)
        statement = insert.on_conflict_do_update(index_elements=["key"], set_=changes)
        with self._engine.begin() as connection:
            row = connection.execute(statement.returning(*t.c)).mappings().one()
        return StatusRecord(**row)

    def set_state(self, component: str, state: str, at: datetime, note: str = "") -> None:
        check_text(component, "component")
        if state not in COMPONENT_STATES:
            raise InvalidInput("state", f"{state!r} is not one of {', '.join(COMPONENT_STATES)}")
        at = require_utc(at, "at")
        insert = self._insert().values(key=component, value=state, note=note, updated_at=at)
        statement = insert.on_conflict_do_update(
            index_elements=["key"], set_={"value": state, "note": note, "updated_at": at}
        )
        with self._engine.begin() as connection:
            connection.execute(statement)

    def get(self, component: str) -> StatusRecord | None:
        found = self._select(sa.select(system_status).where(system_status.c.key == component))
        return found[0] if found else None

    def all(self) -> list[StatusRecord]:
        return self._select(sa.select(system_status).order_by(system_status.c.key))

    def _select(self, statement: sa.Select) -> list[StatusRecord]:
        with self._engine.connect() as connection:
            rows = connection.execute(statement).mappings().all()
        return [StatusRecord(**row) for row in rows]
