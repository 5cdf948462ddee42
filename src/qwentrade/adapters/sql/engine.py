"""The engine factory: PostgreSQL through psycopg 3, or an embedded SQLite file.

Nothing is created at import; :func:`make_engine` is called by the composition root, the
notebook reader, the CLI and the tests.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url

from qwentrade.adapters.sql import readonly
from qwentrade.domain.errors import InvalidInput

SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
# sqlite3 errors that mean "this file cannot be used", whenever they happen.
_SQLITE_UNUSABLE = ("unable to open database file", "readonly database", "file is not a database")


class DatabaseUnavailable(InvalidInput):
    """The database named by ``database_url`` cannot be opened or reached; the message says
    why and what to do (start the server, create the database or folder, fix the URL)."""


class DatabaseNotFound(DatabaseUnavailable, FileNotFoundError):
    """A SQLite file (or its folder) that does not exist."""


def normalize_url(url: str | URL) -> URL:
    """The SQLAlchemy URL for ``url``: ``postgres://``/``postgresql://`` use psycopg 3."""
    try:
        parsed = make_url(url)
    except (sa.exc.ArgumentError, ValueError) as e:
        raise InvalidInput(
            "database_url",
            f"{url!r} is not a database URL ({e}); use sqlite:///path/to/file.db or "
            "postgresql+psycopg://user@host:5432/database",
        ) from None
    if parsed.drivername in ("postgres", "postgresql"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername not in ("postgresql+psycopg", "sqlite", "sqlite+pysqlite"):
        raise InvalidInput(
            "database_url",
            f"driver {parsed.drivername!r} is not supported; use sqlite:///path/to/file.db "
            "or postgresql+psycopg://user@host:5432/database",
        )
    return parsed


def make_engine(
    url: str | URL, search_path: str | None = None, read_only: bool = False, **options: Any
) -> Engine:
    """An engine for ``url``: a ``postgresql+psycopg://`` server or a ``sqlite:///`` file.

    PostgreSQL sessions run in UTC (``search_path`` optionally set, for isolated schemas)
    with a 5 s connect timeout and pre-ping. SQLite runs in WAL mode with foreign keys on,
    a 30 s busy timeout, ``synchronous=FULL`` (a committed intent survives a power cut)
    and SQLAlchemy-managed transactions. ``options`` go to ``sqlalchemy.create_engine``.

    ``read_only=True`` opens for reading and changes nothing on disk (see ``readonly.py``):
    PostgreSQL transactions are read-only; a SQLite file opens with ``mode=ro``, keeps its
    journal mode, is not created when missing (DatabaseNotFound) and each connection closes
    when returned, removing the ``-wal``/``-shm`` files reading made.
    """
    parsed = normalize_url(url)
    if parsed.get_backend_name() == "sqlite":
        _check_sqlite_folder(parsed, read_only)
        if read_only:
            return _sqlite_read_only_engine(parsed, options)
    if parsed.get_backend_name() == "postgresql":
        settings = "-c TimeZone=UTC"
        if search_path:
            if not _IDENTIFIER.match(search_path):
                raise InvalidInput("search_path", f"{search_path!r} is not a schema name")
            settings += f" -c search_path={search_path}"
        if read_only:
            settings = readonly.postgres_read_only_options(settings)
        connect_args = {"connect_timeout": POSTGRES_CONNECT_TIMEOUT_SECONDS, "options": settings}
        connect_args.update(options.pop("connect_args", {}))
        engine = sa.create_engine(parsed, pool_pre_ping=True, connect_args=connect_args, **options)
        event.listen(engine, "handle_error", _unavailable)
        return engine
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False}
    connect_args.update(options.pop("connect_args", {}))
    engine = sa.create_engine(parsed, connect_args=connect_args, **options)
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    event.listen(engine, "handle_error", _unavailable)
    return engine


def _sqlite_read_only_engine(parsed: URL, options: dict[str, Any]) -> Engine:
    path = readonly.sqlite_file(parsed)
    if path is not None and not path.is_file():
        raise DatabaseNotFound(
            "database_url", f"no database at {path}: run `qwentrade db upgrade` first"
        )
    connect_args = {"timeout": SQLITE_BUSY_TIMEOUT_SECONDS, "check_same_thread": False}
    connect_args.update(options.pop("connect_args", {}))
    options.setdefault("poolclass", sa.NullPool)  # no idle connection keeps -wal/-shm open
    engine = sa.create_engine(
        readonly.sqlite_read_only_url(parsed), connect_args=connect_args, **options
    )
    event.listen(engine, "connect", _sqlite_read_only_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    event.listen(engine, "handle_error", _unavailable)
    if path is not None:
        files = readonly.WalFiles(path)

        def release(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.close()  # SQLAlchemy closes it right after; closing twice is fine
            files.release()

        event.listen(engine, "close", release)
    return engine


def safe_url(url: URL) -> str:
    """``url`` as text with any password hidden, for messages."""
    return url.render_as_string(hide_password=True)


def _check_sqlite_folder(url: URL, read_only: bool = False) -> None:
    # Checked before connecting: sqlite3 would only say "unable to open database file".
    database = url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return
    path = Path(database)
    folder = path.parent
    if path.is_dir():
        raise DatabaseUnavailable(
            "database_url",
            f"{path} is a folder: name a SQLite file in it, e.g. {path / 'qwentrade.db'}",
        )
    if not folder.is_dir():
        raise DatabaseNotFound(
            "database_url",
            f"the folder {folder} of the SQLite file {path} does not exist: create it, or "
            "use a file in an existing folder",
        )
    if not read_only and not path.exists() and not os.access(folder, os.W_OK | os.X_OK):
        raise DatabaseUnavailable(
            "database_url",
            f"cannot create the SQLite file {path}: the folder {folder} is not writable; "
            "use a file in a folder you can write to",
        )


def _unavailable(context: sa.engine.ExceptionContext) -> None:
    """Turn "cannot connect" and "cannot open the file" into DatabaseUnavailable."""
    original = context.original_exception
    url = context.engine.url if context.engine is not None else None
    if url is None or context.is_pre_ping:
        return
    detail = _first_line(original)
    if url.get_backend_name() == "sqlite":
        if url.query.get("mode") == "ro" and "readonly database" in detail:
            return  # a write through a read-only engine: SQLite's own message says it
        if any(text in detail for text in _SQLITE_UNUSABLE):
            raise DatabaseUnavailable(
                "database_url",
                f"cannot use the SQLite file {url.database} ({detail}): check that it is a "
                "qwentrade database you may read and write, or point at another file",
            )
        return
    if context.connection is not None:  # a failure inside a working session
        return
    raise connect_failure(url, original)


def _first_line(error: BaseException) -> str:
    lines = str(error).strip().splitlines() or [type(error).__name__]
    return " ".join(lines[0].split()).removeprefix("connection failed: ")


def connect_failure(url: URL, error: BaseException) -> DatabaseUnavailable:
    """The one-line error for a PostgreSQL server at ``url`` that the driver could not
    connect to (``error``): what happened, the URL without its password, what to do."""
    detail = _first_line(error)
    if f'database "{url.database}" does not exist' in detail:
        hint = (
            f"create the database (createdb -h {url.host} -p {url.port or 5432} "
            f"-U {url.username} {url.database}) or fix the URL"
        )
    else:
        hint = "check that the server is running and the host, port and user in the URL"
    return DatabaseUnavailable(
        "database_url", f"cannot connect to {safe_url(url)} ({detail}): {hint}"
    )


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy, not the sqlite3 module, decide where transactions begin: the module's
    # implicit BEGIN breaks SAVEPOINTs and transactional DDL (SQLAlchemy's documented recipe).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.execute("PRAGMA synchronous=FULL")
    finally:
        cursor.close()


def _sqlite_read_only_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # No journal_mode or synchronous PRAGMA: both would write, or change the file for good.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.execute("PRAGMA query_only=ON")
    finally:
        cursor.close()


def _sqlite_on_begin(connection: sa.Connection) -> None:
    # Writers that read before they write ask for IMMEDIATE (execution option
    # sqlite_begin="IMMEDIATE"): taking the write lock up front lets the busy timeout wait
    # instead of failing on a stale read snapshot.
    mode = connection.get_execution_options().get("sqlite_begin", "")
    connection.exec_driver_sql(f"BEGIN {mode}".strip())


def is_postgres(engine: Engine | sa.Connection) -> bool:
    """True when ``engine`` talks to PostgreSQL."""
    return engine.dialect.name == "postgresql"
