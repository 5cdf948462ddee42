"""The schema check of every start, without Alembic when there is nothing to migrate.

Every command that touches the database migrates it to head first. Importing Alembic and
reading its revision scripts costs more than a no-op command does in total, so the start
reads ``alembic_version`` itself and compares it with :data:`HEAD_REVISION`, the newest
revision this package ships (a test keeps the constant equal to the migration scripts'
head). Only a database at another revision (empty, older, or newer and then refused) goes
through ``migrate.upgrade``, which imports Alembic.

SQLAlchemy itself is imported only when a check runs: :data:`HEAD_REVISION` is also read
by ``config_direct.py``, the SQLAlchemy-free path of ``qwentrade config get``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import URL, Engine

HEAD_REVISION = "0003"
VERSION_TABLE = "alembic_version"  # Alembic's default, which migrate.py keeps


@contextmanager
def engine_for(target: str | URL | Engine) -> Iterator[Engine]:
    """The engine given, or one made from the URL and disposed of on exit."""
    from sqlalchemy.engine import Engine

    from qwentrade.adapters.sql.engine import make_engine

    if isinstance(target, Engine):
        yield target
        return
    engine = make_engine(target)
    try:
        yield engine
    finally:
        engine.dispose()


def stored_revisions(connection: sa.Connection) -> list[str]:
    """The revisions in ``alembic_version`` (one on a linear history); empty when the table
    does not exist or cannot be read - the caller then takes Alembic's careful path."""
    import sqlalchemy as sa

    try:
        rows = connection.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}")
        return [str(value) for value in rows.scalars()]
    except (sa.exc.OperationalError, sa.exc.ProgrammingError):
        # SQLite "no such table", PostgreSQL "relation does not exist" (an empty database)
        return []


def ensure_schema(target: str | URL | Engine) -> str:
    """Service start: refuse a newer database, else upgrade to head; returns the head.

    A database already at :data:`HEAD_REVISION` costs one query and no Alembic import.
    """
    with engine_for(target) as engine:
        with engine.connect() as connection:
            revisions = stored_revisions(connection)
        if revisions == [HEAD_REVISION]:
            return HEAD_REVISION
        from qwentrade.adapters.sql.migrate import upgrade

        return upgrade(engine, "head")
