"""Database helpers shared by tests in several folders (imported by name: ``tests/`` is on
``sys.path``; a test module must not import ``conftest``, whose name several folders share)."""

from __future__ import annotations

import sqlalchemy as sa

from qwentrade.adapters.sql.schema import metadata


def empty_tables(engine: sa.Engine) -> None:
    """Empty every table of a PostgreSQL database (identities restarted)."""
    names = ", ".join(f'"{table.name}"' for table in metadata.sorted_tables)
    with engine.begin() as connection:
        connection.exec_driver_sql(f"TRUNCATE {names} RESTART IDENTITY")
