"""Empty databases for the migration tests, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from qwentrade.adapters.sql import make_engine

BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@contextmanager
def empty_database(
    request: pytest.FixtureRequest, tmp_path, schema_prefix: str
) -> Iterator[sa.Engine]:
    """An engine on an empty database (a new SQLite file, or a new PostgreSQL schema named
    after ``schema_prefix``) for the backend ``request.param``; disposed of on exit."""
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    else:
        engine = request.getfixturevalue("postgres_schemas").engine(schema_prefix)
    try:
        yield engine
    finally:
        engine.dispose()
