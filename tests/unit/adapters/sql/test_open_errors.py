"""``qwentrade.open(url)`` refuses a bad database with one library error, no SQLAlchemy chain."""

import socket
import traceback

import pytest
from sqlalchemy.engine import make_url

from qwentrade import reader
from qwentrade.adapters.sql import DatabaseNotFound, DatabaseUnavailable
from qwentrade.domain.errors import DomainError


def refused(url: str) -> DomainError:
    with pytest.raises(DomainError) as caught:
        reader.open(url)
    error = caught.value
    assert isinstance(error, ValueError)
    assert error.__cause__ is None and error.__suppress_context__
    shown = "".join(traceback.format_exception(error))
    assert "sqlalchemy" not in shown.lower() and "OperationalError" not in shown
    assert "During handling" not in shown and "direct cause" not in shown
    return error


def test_a_sqlite_file_in_a_missing_folder(tmp_path):
    error = refused(f"sqlite:///{tmp_path / 'nowhere' / 'q.db'}")
    assert isinstance(error, DatabaseNotFound) and isinstance(error, FileNotFoundError)
    assert error.field == "url" and "does not exist" in str(error)
    assert not (tmp_path / "nowhere").exists()


def test_an_unreachable_postgresql_server():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = refused(f"postgresql+psycopg://postgres@127.0.0.1:{port}/x")
    assert isinstance(error, DatabaseUnavailable)
    assert "cannot connect" in str(error) and "server is running" in str(error)


def test_a_missing_postgresql_database(postgres_url):
    server = make_url(postgres_url)  # the fixture skips when no server answers
    missing = server.set(database="qwentrade_no_such_db").render_as_string(hide_password=False)
    error = refused(missing)
    assert isinstance(error, DatabaseUnavailable)
    assert "does not exist" in str(error) and "createdb" in str(error)


def test_a_file_that_is_not_a_database(tmp_path):
    path = tmp_path / "notes.db"
    path.write_text("these are notes, not a database\n" * 100)
    error = refused(f"sqlite:///{path}")
    assert isinstance(error, DatabaseUnavailable) and "not a database" in str(error)


def test_a_password_in_the_url_is_not_shown():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    error = refused(f"postgresql+psycopg://user:hunter2-secret@127.0.0.1:{port}/x")
    assert "hunter2-secret" not in str(error)
