"""Bulk idempotent upserts: records on both dialects, candle frames on SQLite.

Small batches of records go through :func:`upsert_rows` (``INSERT ... ON CONFLICT (key)
DO UPDATE``, executemany). Candle frames take a faster path per dialect: SQLite here
(:func:`upsert_klines_sqlite`), PostgreSQL in ``pgcopy.py``; both write inside the
caller's transaction, which ``klines_write.py`` opens holding the series locks.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

SQLITE_CHUNK_ROWS = 10_000


def upsert_rows(
    connection: sa.Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    update: Sequence[str] | None = None,
) -> int:
    """Insert or update ``rows`` by ``table``'s primary key; returns the rows written.

    ``update`` names the columns a conflict overwrites (default: every non-key column).
    When a key appears twice in ``rows`` the last one wins.
    """
    if not rows:
        return 0
    keys = [column.name for column in table.primary_key.columns]
    unique = list({tuple(row[k] for k in keys): row for row in rows}.values())
    insert = (postgresql if connection.dialect.name == "postgresql" else sqlite).insert(table)
    columns = (
        update if update is not None else [c.name for c in table.columns if c.name not in keys]
    )
    if columns:
        statement = insert.on_conflict_do_update(
            index_elements=keys, set_={name: insert.excluded[name] for name in columns}
        )
    else:
        statement = insert.on_conflict_do_nothing(index_elements=keys)
    connection.execute(statement, unique)
    return len(unique)


@contextmanager
def paused_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector while building millions of row objects.

    Creating a million small lists triggers collection after collection (it tripled the
    cost of building rows here); these rows form no cycles, so waiting loses nothing.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def upsert_klines_sqlite(connection: sa.Connection, table: sa.Table, frame: pl.DataFrame) -> int:
    """Upsert a normalised klines frame into SQLite within ``connection``'s transaction
    (the caller commits: one series, one transaction, so a kill leaves all or nothing).

    Rows travel as plain float lists (epoch seconds, then the values; NaN binds as NULL),
    one statement per symbol with the symbol as a literal, and SQLite renders the time text
    SQLAlchemy stores (``YYYY-MM-DD HH:MM:SS.000000``; candle open times are whole
    seconds). Building tuples of strings and datetimes in Python cost more than the inserts.
    """
    names = frame.columns
    quoted = [f'"{name}"' for name in names]  # names come from the schema, not from users
    assignments = ", ".join(f"{q} = excluded.{q}" for q in quoted[2:])
    placeholders = ", ".join(["?"] * (len(names) - 2))
    seconds = (pl.col("time").dt.epoch("us") // 1_000_000).cast(pl.Float64)
    cursor = connection.connection.cursor()  # sqlite3 takes lists as rows
    try:
        for (symbol,), part in frame.group_by(["symbol"], maintain_order=True):
            literal = "'" + str(symbol).replace("'", "''") + "'"
            statement = (
                f'INSERT INTO "{table.name}" ({", ".join(quoted)}) '
                f"VALUES ({literal}, printf('%s.000000', datetime(?, 'unixepoch')), "
                f"{placeholders}) ON CONFLICT (symbol, time) DO UPDATE SET {assignments}"
            )
            matrix = part.select(seconds, *names[2:]).fill_null(float("nan")).to_numpy()
            for start in range(0, matrix.shape[0], SQLITE_CHUNK_ROWS):
                with paused_gc():  # lists of floats only: chunks bound the memory
                    rows = matrix[start : start + SQLITE_CHUNK_ROWS].tolist()
                cursor.executemany(statement, rows)
    finally:
        cursor.close()
    return frame.height
