"""The notebook reader changes nothing: writes through it fail, and a SQLite file keeps its
bytes, modification time, journal mode and folder listing after being read."""

from __future__ import annotations

import hashlib
import shutil
import sqlite3
import sys
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "contract"))
from storage_samples import BTC, T0, klines, signal

from qwentrade import reader
from qwentrade.adapters.sql import (
    SchemaVersionError,
    SqlRepositories,
    current_revision,
    head_revision,
    make_engine,
)
from qwentrade.adapters.sql.schema import kline_table
from qwentrade.domain.market import Timeframe

M15 = Timeframe.M15


def read_only_twin(engine: sa.Engine) -> sa.Engine:
    """A read-only engine on the same database (the same schema on PostgreSQL)."""
    if engine.dialect.name == "sqlite":
        return make_engine(engine.url, read_only=True)
    with engine.connect() as connection:
        schema = connection.exec_driver_sql("SELECT current_schema()").scalar()
    return make_engine(engine.url, search_path=schema, read_only=True)


def count(engine: sa.Engine) -> int:
    table = kline_table(M15)
    with engine.connect() as connection:
        return connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()


@pytest.mark.parametrize(
    "write",
    [
        "INSERT INTO klines_15m (symbol, time, open, high, low, close, volume) "
        "VALUES ('X', '2024-01-01 00:00:00', 1, 1, 1, 1, 1)",
        "DELETE FROM klines_15m",
        "UPDATE klines_15m SET close = 0",
        "CREATE TABLE intruder (x INTEGER)",
    ],
)
def test_a_write_through_the_readers_engine_fails_and_changes_nothing(sql, write):
    SqlRepositories.from_engine(sql).klines.upsert(M15, klines(BTC, count=8))
    with reader.Reader(read_only_twin(sql)) as db:
        refused = pytest.raises(sa.exc.DBAPIError, match=r"read-only|readonly")
        with refused, db._engine.begin() as connection:
            connection.exec_driver_sql(write)
        assert db.klines(BTC).height == 8
    assert count(sql) == 8
    assert "intruder" not in sa.inspect(sql).get_table_names()


def sqlite_file(tmp_path: Path, template: Path, journal_mode: str = "wal") -> Path:
    """A filled qwentrade SQLite file in ``journal_mode``, closed by every writer."""
    path = tmp_path / "qwentrade.db"
    shutil.copy(template, path)
    engine = make_engine(f"sqlite:///{path}")
    repositories = SqlRepositories.from_engine(engine)
    repositories.klines.upsert(M15, klines(BTC, count=40))
    repositories.signals.add(signal(BTC, T0 + timedelta(minutes=15)))
    engine.dispose()
    if journal_mode != "wal":
        with sqlite3.connect(path) as connection:
            connection.execute(f"PRAGMA journal_mode={journal_mode}")
        connection.close()
    return path


def snapshot(path: Path) -> tuple[str, int, list[str], str]:
    """(bytes hash, mtime, folder listing, journal mode from the header) of a SQLite file."""
    data = path.read_bytes()
    journal = {1: "rollback", 2: "wal"}[data[18]]
    listing = sorted(p.name for p in path.parent.iterdir())
    return hashlib.sha256(data).hexdigest(), path.stat().st_mtime_ns, listing, journal


def read_everything(url: str) -> None:
    with reader.open(url) as db:
        assert db.klines(BTC, "15m").height == 40
        assert db.klines(BTC, "15m", start=T0 + timedelta(hours=1), limit=3).height == 3
        assert db.signals(BTC).height == 1
        assert db.orders().is_empty() and db.market("funding_rate").is_empty()
        refused = pytest.raises(sa.exc.OperationalError, match="readonly")
        with refused, db._engine.begin() as connection:
            connection.exec_driver_sql("DELETE FROM klines_15m")


@pytest.mark.parametrize("journal_mode", ["wal", "delete"])  # the two a file remembers
def test_reading_a_sqlite_file_leaves_it_exactly_as_it_was(tmp_path, sqlite_template, journal_mode):
    path = sqlite_file(tmp_path, sqlite_template, journal_mode)
    before = snapshot(path)
    assert before[3] == ("wal" if journal_mode == "wal" else "rollback")
    read_everything(f"sqlite:///{path}")
    assert snapshot(path) == before
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as connection:
        mode = connection.execute("PRAGMA journal_mode").fetchone()[0]
    connection.close()
    assert mode == journal_mode


def test_a_running_writers_files_are_left_to_it(tmp_path, sqlite_template):
    path = sqlite_file(tmp_path, sqlite_template)
    writer = make_engine(f"sqlite:///{path}")
    repositories = SqlRepositories.from_engine(writer)
    with writer.connect() as held:  # the service's pooled connection stays open
        held.exec_driver_sql("SELECT 1").all()
        read_everything(f"sqlite:///{path}")
        assert Path(f"{path}-wal").exists() and Path(f"{path}-shm").exists()
        repositories.klines.upsert(M15, klines(BTC, start=T0 + 40 * timedelta(minutes=15)))
        with reader.open(f"sqlite:///{path}") as db:
            assert db.klines(BTC).height == 50  # the writer's WAL is read, not dropped
    writer.dispose()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["qwentrade.db"]


def test_an_empty_file_is_refused_and_stays_empty(tmp_path):
    path = tmp_path / "empty.db"
    path.touch()
    with pytest.raises(SchemaVersionError, match="no qwentrade schema"):
        reader.open(f"sqlite:///{path}")
    assert path.stat().st_size == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty.db"]


def test_a_missing_file_is_refused_and_not_created(tmp_path):
    with pytest.raises(FileNotFoundError, match="no qwentrade database at"):
        reader.open(f"sqlite:///{tmp_path / 'missing.db'}")
    with pytest.raises(FileNotFoundError, match="no database at"):
        make_engine(f"sqlite:///{tmp_path / 'missing.db'}", read_only=True)
    assert list(tmp_path.iterdir()) == []


def test_db_current_reads_without_creating_or_changing(tmp_path, sqlite_template):
    missing = tmp_path / "new" / "qwentrade.db"
    missing.parent.mkdir()
    assert current_revision(f"sqlite:///{missing}") is None
    assert list(missing.parent.iterdir()) == []
    path = sqlite_file(tmp_path, sqlite_template)
    before = snapshot(path)
    assert current_revision(f"sqlite:///{path}") == head_revision()
    assert snapshot(path) == before


def test_a_path_with_uri_characters_opens_read_only(tmp_path, sqlite_template):
    folder = tmp_path / "my data #1 100%"
    folder.mkdir()
    path = sqlite_file(folder, sqlite_template)
    before = snapshot(path)
    with reader.open(f"sqlite:///{path}") as db:
        assert db.klines(BTC).height == 40
        assert db._klines.row_reads == 0  # read column-wise through the file: URI
    assert snapshot(path) == before
