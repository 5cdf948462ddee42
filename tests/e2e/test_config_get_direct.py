"""`qwentrade config get` on a database at head reads through the bare driver (no
SQLAlchemy) and says exactly what the full path says; any other database takes the full
path, which migrates it or refuses it as before.

Each case runs the real CLI in a fresh interpreter twice: as shipped ("direct") and with
the direct read declined ("full"), and compares exit status, output and errors.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from qwentrade.adapters.sql.revision import HEAD_REVISION

NOT_IMPORTED = ("sqlalchemy", "alembic", "polars", "numpy", "litestar")
# Runs main(argv) - with the direct read declined when argv[0] is "full" - then prints the
# top-level packages imported, as JSON, on the last line of stdout.
PROBE = """
import json, sys
path, *argv = sys.argv[1:]
if path == "full":
    from qwentrade.adapters.sql import config_direct

    def declined(url, key):
        raise config_direct.NotDirect("the test asks for the full path")

    config_direct.config_get = declined
from qwentrade.app.cli import main
code = main(argv)
sys.stdout.flush()
print()
print(json.dumps({"code": code, "modules": sorted({m.split(".")[0] for m in sys.modules})}))
"""


def run(workdir: Path, url: str, path: str, *args: str) -> tuple[int, str, str, set[str]]:
    """``qwentrade *args`` on ``url``: exit status, stdout, stderr, packages imported."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("QWENTRADE_")}
    result = subprocess.run(
        [sys.executable, "-c", PROBE, path, *args],
        cwd=workdir,
        env={**clean, "QWENTRADE_LOG_FILE": "", "QWENTRADE_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    *output, last = result.stdout.rstrip("\n").split("\n")
    report = json.loads(last)
    # output[-1] is the empty line the probe prints before its report
    return report["code"], "\n".join(output[:-1]), result.stderr, set(report["modules"])


def both(workdir: Path, url: str, *args: str) -> tuple[int, str, str, set[str]]:
    """Run ``args`` directly and on the full path; assert they agree; the direct result."""
    code, output, errors, modules = run(workdir, url, "direct", *args)
    assert (code, output, errors) == run(workdir, url, "full", *args)[:3]
    return code, output, errors, modules


class Database:
    """A database the CLI is pointed at, and raw SQL on it through the bare driver."""

    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.workdir = workdir

    def cli(self, *args: str) -> tuple[int, str, str, set[str]]:
        return run(self.workdir, self.url, "direct", *args)

    def both(self, *args: str) -> tuple[int, str, str, set[str]]:
        return both(self.workdir, self.url, *args)

    def sql(self, statement: str) -> None:
        if self.url.startswith("sqlite"):
            with sqlite3.connect(self.url.removeprefix("sqlite:///")) as connection:
                connection.execute(statement)
            connection.close()
        else:
            import psycopg

            plain = self.url.replace("postgresql+psycopg://", "postgresql://")
            with psycopg.connect(plain, autocommit=True) as connection:
                connection.execute(statement)


@pytest.fixture
def new_postgres_database(postgres_url: str) -> Iterator[str]:
    """A database of its own on the test server (the CLI takes no search_path), dropped
    afterwards; its URL."""
    import psycopg

    server, _, _ = postgres_url.rpartition("/")
    admin = server.replace("postgresql+psycopg://", "postgresql://") + "/postgres"
    name = f"qt_direct_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{server}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def empty(request, tmp_path) -> Database:
    """An empty database: a SQLite file with no tables, or a new PostgreSQL database."""
    if request.param == "sqlite":
        sqlite3.connect(tmp_path / "q.db").close()
        return Database(f"sqlite:///{tmp_path / 'q.db'}", tmp_path)
    return Database(request.getfixturevalue("new_postgres_database"), tmp_path)


@pytest.fixture
def database(empty: Database) -> Database:
    """A database at head."""
    code, _, errors, _ = empty.cli("db", "upgrade")
    assert code == 0, errors
    return empty


def test_values_and_key_errors_are_what_the_full_path_prints(database):
    assert database.both("config", "get", "KLINE_15M_START_DAYS")[:3] == (0, "30", "")
    assert database.cli("config", "set", "DETECTOR_SIGNAL_THRESHOLD", "20")[0] == 0
    assert database.cli("config", "set", "DETECTOR_REQUIRE_ALIGNMENT", "off")[0] == 0
    assert database.cli("config", "set", "DETECTOR_ACTIVITY_RATIO", "1.5")[0] == 0
    cases = {
        ("detector.signal_threshold",): 20,  # any spelling of the name
        ("DETECTOR_REQUIRE_ALIGNMENT",): "false",
        ("DETECTOR_ACTIVITY_RATIO",): "1.5",
        ("KLINE_4H_START_DAYS",): 180,
    }
    for (key,), expected in cases.items():
        code, output, errors, modules = database.both("config", "get", key)
        assert (code, output, errors) == (0, str(expected), "")
        assert modules.isdisjoint(NOT_IMPORTED), key
    for key, words in (("NO_SUCH_KEY", "is not a config key"), ("okx.secret", "secrets")):
        code, output, errors, modules = database.both("config", "get", key)
        assert (code, output) == (1, "") and words in errors and len(errors.splitlines()) == 1
        assert modules.isdisjoint(NOT_IMPORTED), key


@pytest.mark.parametrize("stored", ["lots", "99999", ""])
def test_an_invalid_stored_text_gives_the_default_as_on_the_full_path(database, stored):
    assert database.cli("config", "set", "KLINE_15M_START_DAYS", "7")[0] == 0
    database.sql(f"UPDATE config SET value = '{stored}' WHERE key = 'KLINE_15M_START_DAYS'")
    code, output, errors, modules = database.both("config", "get", "KLINE_15M_START_DAYS")
    assert (code, output) == (0, "30")
    assert "using the default" in errors  # logged (with no log file: Python's last resort)
    assert modules.isdisjoint(NOT_IMPORTED)


def test_a_database_not_at_head_is_migrated_by_config_get(empty):
    code, output, errors, modules = empty.cli("config", "get", "KLINE_15M_START_DAYS")
    assert (code, output, errors) == (0, "30", "")
    assert "alembic" in modules  # the full path migrated it
    assert empty.cli("db", "current")[1].startswith(f"database schema revision: {HEAD_REVISION}")
    code, output, errors, modules = empty.cli("config", "get", "KLINE_15M_START_DAYS")
    assert (code, output, errors) == (0, "30", "")
    assert modules.isdisjoint(NOT_IMPORTED)  # now at head: read directly


def test_an_older_database_is_migrated_to_head(empty):
    assert empty.cli("db", "upgrade", "0001")[0] == 0
    code, output, errors, modules = empty.cli("config", "get", "KLINE_15M_START_DAYS")
    assert (code, output, errors) == (0, "30", "")
    assert "alembic" in modules
    assert empty.cli("db", "current")[1].startswith(f"database schema revision: {HEAD_REVISION}")


def test_a_newer_database_is_refused_as_on_the_full_path(database):
    database.sql("UPDATE alembic_version SET version_num = 'fffffff'")
    code, output, errors, _ = database.both("config", "get", "KLINE_15M_START_DAYS")
    assert (code, output) == (1, "") and "newer than this qwentrade" in errors
    assert len(errors.splitlines()) == 1 and "Traceback" not in errors


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path):
    url = f"postgresql+psycopg://trader:hunter2-secret@127.0.0.1:{unused_port()}/x"
    code, output, errors, _ = both(tmp_path, url, "config", "get", "KLINE_15M_START_DAYS")
    assert (code, output) == (1, "") and len(errors.splitlines()) == 1
    assert errors.startswith("qwentrade: QWENTRADE_DATABASE_URL: cannot connect to ")
    assert "hunter2" not in errors and "trader:***@" in errors
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
def test_a_missing_postgresql_database_is_one_line_saying_create_it(tmp_path, postgres_url):
    url = postgres_url.rpartition("/")[0] + "/qwentrade_no_such_db"
    code, output, errors, _ = both(tmp_path, url, "config", "get", "KLINE_15M_START_DAYS")
    assert (code, output) == (1, "") and len(errors.splitlines()) == 1
    assert "QWENTRADE_DATABASE_URL" in errors and "createdb" in errors


def test_sqlite_files_that_cannot_be_read_directly_say_what_the_full_path_says(tmp_path):
    (tmp_path / "notes.db").write_text("these are notes, not a database\n" * 100)
    (tmp_path / "folder.db").mkdir()
    for name, words in (
        ("no/such/folder/q.db", "does not exist"),
        ("notes.db", "not a database"),
        ("folder.db", "is a folder"),
    ):
        url = f"sqlite:///{tmp_path / name}"
        code, output, errors, _ = both(tmp_path, url, "config", "get", "KLINE_15M_START_DAYS")
        assert (code, output) == (1, "") and words in errors, name
        assert errors.startswith("qwentrade: QWENTRADE_DATABASE_URL: ")
        assert len(errors.splitlines()) == 1
    assert not (tmp_path / "no").exists()


def test_a_missing_sqlite_file_is_created_and_migrated(tmp_path):
    url = f"sqlite:///{tmp_path / 'new.db'}"
    code, output, errors, modules = run(tmp_path, url, "direct", "config", "get", "KEEP_DAYS")
    # the key is looked at after the migration, as before
    assert (code, output) == (1, "") and "is not a config key" in errors
    assert "alembic" in modules
    with sqlite3.connect(tmp_path / "new.db") as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == [
            (HEAD_REVISION,)
        ]
    connection.close()
