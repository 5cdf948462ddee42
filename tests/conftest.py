"""Shared fixtures: storage backends for the repository contract suites.

``repos`` runs a test once per backend - memory, SQLite (a migrated file per test) and
PostgreSQL (a migrated schema of its own per test session, emptied before each test). The
PostgreSQL server is named by ``QWENTRADE_TEST_DATABASE_URL`` (default
``postgresql+psycopg://postgres@127.0.0.1:5432/test``); when it cannot be reached its tests
are skipped with one reason, except under ``CI=true``, where that is a failure.
"""

from __future__ import annotations

import functools
import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from db_helpers import empty_tables
from env_helpers import in_ci
from qwentrade.adapters.memory import MemoryRepositories
from qwentrade.adapters.sql import SqlRepositories, make_engine, upgrade

DEFAULT_TEST_DATABASE_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def postgres_test_url() -> str:
    return os.environ.get("QWENTRADE_TEST_DATABASE_URL", DEFAULT_TEST_DATABASE_URL)


@functools.cache
def postgres_problem() -> str | None:
    """Why the test server cannot be used (None when it answers); asked once per run."""
    url = postgres_test_url()
    engine = make_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as e:
        where = engine.url.render_as_string()
        return f"PostgreSQL at {where} is unreachable ({type(e).__name__})"
    finally:
        engine.dispose()
    return None


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip every PostgreSQL test with one reason when the server is away (not in CI)."""
    marked = [item for item in items if item.get_closest_marker("postgres")]
    if marked and not in_ci() and (problem := postgres_problem()):
        skip = pytest.mark.skip(reason=f"{problem}; set QWENTRADE_TEST_DATABASE_URL to run them")
        for item in marked:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The test server's URL, after proving it answers (under CI=true a failure if not)."""
    problem = postgres_problem()
    if problem:
        if in_ci():
            pytest.fail(f"{problem}; CI=true requires it", pytrace=False)
        pytest.skip(f"{problem}; set QWENTRADE_TEST_DATABASE_URL to run them")
    return postgres_test_url()


class PostgresSchemas:
    """Creates uniquely named schemas (so parallel runs never collide) and drops them."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.admin = make_engine(url)
        self.created: list[str] = []

    def engine(self, prefix: str = "qt") -> sa.Engine:
        name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with self.admin.begin() as connection:
            connection.exec_driver_sql(f'CREATE SCHEMA "{name}"')
        self.created.append(name)
        return make_engine(self.url, search_path=name)

    def drop_all(self) -> None:
        with self.admin.begin() as connection:
            for name in self.created:
                connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')
        self.admin.dispose()


@pytest.fixture(scope="session")
def postgres_schemas(postgres_url: str) -> Iterator[PostgresSchemas]:
    schemas = PostgresSchemas(postgres_url)
    yield schemas
    schemas.drop_all()


@pytest.fixture(scope="session")
def postgres_engine(postgres_schemas: PostgresSchemas) -> Iterator[sa.Engine]:
    """One migrated schema for the session; ``repos`` empties it before each test."""
    engine = postgres_schemas.engine()
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (faster than migrating every time)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    with engine.connect() as connection:
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    engine.dispose()
    return path


@pytest.fixture(params=BACKENDS)
def repos(request: pytest.FixtureRequest) -> MemoryRepositories | SqlRepositories:
    """Every repository on one backend: memory, SQLite or PostgreSQL."""
    if request.param == "memory":
        return MemoryRepositories()
    return SqlRepositories.from_engine(_sql_engine(request))


def _sql_engine(request: pytest.FixtureRequest) -> sa.Engine:
    if request.param == "sqlite":
        path = request.getfixturevalue("tmp_path") / "qwentrade.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        engine = make_engine(f"sqlite:///{path}")
        request.addfinalizer(engine.dispose)
        return engine
    engine = request.getfixturevalue("postgres_engine")
    empty_tables(engine)
    return engine


@pytest.fixture(params=SQL_BACKENDS)
def sql(request: pytest.FixtureRequest) -> sa.Engine:
    """A migrated, empty SQL database on SQLite or PostgreSQL."""
    return _sql_engine(request)
