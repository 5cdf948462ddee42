"""The engine factory and the column types that make SQLite and PostgreSQL agree."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
import sqlalchemy as sa

from qwentrade.adapters.sql import make_engine
from qwentrade.adapters.sql.engine import normalize_url
from qwentrade.adapters.sql.types import ExactDecimal, UtcDateTime
from qwentrade.domain.errors import InvalidInput

probe = sa.Table(
    "probe",
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("at", UtcDateTime()),
    sa.Column("amount", ExactDecimal()),
)


@pytest.fixture
def table(sql):
    probe.create(sql)
    yield sql
    probe.drop(sql)


def test_sqlite_runs_in_wal_mode_with_foreign_keys_and_a_busy_timeout(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as connection:
        pragma = connection.exec_driver_sql
        assert pragma("PRAGMA journal_mode").scalar() == "wal"
        assert pragma("PRAGMA foreign_keys").scalar() == 1
        assert pragma("PRAGMA busy_timeout").scalar() == 30_000
        assert pragma("PRAGMA synchronous").scalar() == 2  # FULL
    engine.dispose()


def test_aware_times_come_back_aware_utc_and_naive_ones_are_refused(table):
    shanghai = timezone(timedelta(hours=8))
    given = datetime(2024, 3, 1, 8, 30, 0, 123456, tzinfo=shanghai)
    with table.begin() as connection:
        connection.execute(probe.insert(), {"id": 1, "at": given})
    with table.connect() as connection:
        back = connection.execute(sa.select(probe.c.at)).scalar()
    assert back == given and back.tzinfo == UTC and back.hour == 0
    with pytest.raises(sa.exc.StatementError) as info, table.begin() as connection:
        connection.execute(probe.insert(), {"id": 2, "at": datetime(2024, 3, 1)})
    assert isinstance(info.value.orig, InvalidInput)


def test_decimals_keep_every_digit(table):
    values = ["0.1", "123456789012345678.123456789012345678", "-0.000000000000000001", "1.50"]
    with table.begin() as connection:
        connection.execute(
            probe.insert(), [{"id": i, "amount": Decimal(v)} for i, v in enumerate(values)]
        )
    with table.connect() as connection:
        back = connection.execute(sa.select(probe.c.amount).order_by(probe.c.id)).scalars().all()
    assert [str(v) for v in back] == [str(Decimal(v)) for v in values]  # "1.50" keeps its 0


def test_sqlite_serialises_two_writers_that_read_first(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'w.db'}")
    probe.create(engine)
    with engine.begin() as connection:
        connection.execute(probe.insert(), {"id": 1, "amount": Decimal(0)})
    errors: list[BaseException] = []

    def add_one() -> None:
        try:
            for _ in range(20):
                writer = engine.connect().execution_options(sqlite_begin="IMMEDIATE")
                with writer as connection, connection.begin():
                    current = connection.execute(sa.select(probe.c.amount)).scalar()
                    connection.execute(probe.update().values(amount=current + 1))
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=add_one) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors
    with engine.connect() as connection:
        assert connection.execute(sa.select(probe.c.amount)).scalar() == 60
    engine.dispose()


def test_urls_are_normalised_or_refused_naming_the_setting():
    assert normalize_url("postgresql://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("postgres://u@h/db").drivername == "postgresql+psycopg"
    assert normalize_url("sqlite:///x.db").drivername == "sqlite"
    for bad in ("mysql://u@h/db", "not a url", "postgresql+psycopg2://u@h/db"):
        with pytest.raises(InvalidInput) as info:
            normalize_url(bad)
        assert info.value.field == "database_url"
    with pytest.raises(InvalidInput) as info:
        make_engine("postgresql://u@h/db", search_path="x; DROP TABLE y")
    assert info.value.field == "search_path"
