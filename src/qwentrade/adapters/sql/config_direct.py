"""One config value read through the bare driver, for ``qwentrade config get``.

``config get`` must answer within 0.3 s as a whole process, and importing SQLAlchemy alone
costs more than half of that. So the value is read with ``sqlite3`` or ``psycopg``
directly - but only when that is plainly the same as the full path (``ensure_schema``,
then ``SqlConfigStore.get``). Rules:

1. The URL has one of two plain shapes, split by SQLAlchemy's own pattern: ``sqlite:///path``
   naming an existing file, or ``postgresql+psycopg://user[:password]@host[:port]/database``
   with libpq options in the query. psycopg is given what SQLAlchemy would give it.
2. The schema is at :data:`HEAD_REVISION`. A database anywhere else (empty, older, newer)
   is migrated or refused by the full path.
3. Anything unusual raises :class:`NotDirect` and the caller takes the full path, which
   does and says what it always did: another URL shape, a missing SQLite file (the full
   path creates it), any SQLite error, any error once a server has answered.
4. A PostgreSQL server that cannot be reached is reported here, in the full path's words
   (``engine.connect_failure``, imported only then): falling back would wait out a
   connect timeout twice.
5. A stored text that no longer parses gives the key's default, logged, as in the store.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, unquote

from qwentrade.adapters.sql.revision import HEAD_REVISION, VERSION_TABLE
from qwentrade.domain.config_keys import ConfigKey, ConfigValue, config_key
from qwentrade.domain.errors import InvalidInput

log = logging.getLogger(__name__)

# What make_engine gives every PostgreSQL connection (engine.py); kept equal by a test.
POSTGRES_CONNECT_TIMEOUT_SECONDS = 5
POSTGRES_OPTIONS = "-c TimeZone=UTC"
SQLITE_BUSY_TIMEOUT_SECONDS = 30.0
# SQLAlchemy's URL pattern (sqlalchemy.engine.url._parse_url), so that both paths read a
# URL the same way.
_URL = re.compile(
    r"""
        (?P<name>[\w\+]+)://
        (?:
            (?P<username>[^:/]*)
            (?::(?P<password>[^@]*))?
        @)?
        (?:
            (?:
                \[(?P<ipv6host>[^/\?]+)\] |
                (?P<ipv4host>[^/:\?]+)
            )?
            (?::(?P<port>[^/\?]*))?
        )?
        (?:/(?P<database>[^\?]*))?
        (?:\?(?P<query>.*))?
    """,
    re.X,
)
# Query keys that name a second server, repeat the URL, or are psycopg.connect's own
# arguments: SQLAlchemy treats some specially (multiple hosts), so such a URL takes the
# full path.
_SPECIAL_QUERY = frozenset(
    {"host", "hostaddr", "port", "dbname", "user", "password", "conninfo", "autocommit"}
    | {"prepare_threshold", "context", "row_factory", "cursor_factory"}
)


class NotDirect(Exception):
    """This database is not read here; the caller takes the full path (see rules 1-3)."""


def config_get(url: str, key: str) -> ConfigValue:
    """The effective value of config ``key`` in the database at ``url``, as
    ``SqlConfigStore.get`` returns it on a database at head.

    Raises :class:`NotDirect` when the full path must answer, ``InvalidInput`` for an
    unknown or secret key (as the store does), and ``DatabaseUnavailable`` naming
    ``database_url`` for a PostgreSQL server that cannot be reached.
    """
    target = _target(url)
    if isinstance(target, Path):
        text, spec = _sqlite(target, key)
    else:
        text, spec = _postgres(url, target, key)
    return stored_value(spec, text)


def stored_value(spec: ConfigKey, text: str | None) -> ConfigValue:
    """The value stored ``text`` stands for: the default when nothing is stored, or when
    the text no longer parses (logged: say a range narrowed after it was written)."""
    if text is None:
        return spec.default
    try:
        return spec.parse(text)
    except InvalidInput as e:
        log.warning("config: stored %s is invalid (%s); using the default", spec.name, e)
        return spec.default


def _target(url: str) -> Path | dict[str, Any]:
    """The SQLite file, or psycopg's connect arguments, of a plain ``url`` (rule 1)."""
    match = _URL.match(url)
    if match is None:
        raise NotDirect("not a URL")
    parts = match.groupdict()
    name, query = parts["name"], parts["query"]
    if name == "sqlite":
        return _sqlite_file(parts)
    if name != "postgresql+psycopg" or not (parts["ipv4host"] or parts["ipv6host"]):
        raise NotDirect("not a plain PostgreSQL URL")
    arguments: dict[str, Any] = {"host": parts["ipv4host"] or parts["ipv6host"]}
    for key, part in (("dbname", "database"), ("user", "username"), ("password", "password")):
        if parts[part]:
            arguments[key] = unquote(parts[part])
    if parts["port"]:
        if not parts["port"].isascii() or not parts["port"].isdigit():
            raise NotDirect("an unusual port")
        arguments["port"] = int(parts["port"])
    if "dbname" not in arguments:
        raise NotDirect("no database named")
    options = parse_qsl(query or "")
    names = [key for key, _ in options]
    if len(set(names)) != len(names) or _SPECIAL_QUERY.intersection(names):
        raise NotDirect("unusual query options")
    # The URL's options first, then make_engine's connect arguments, which win (as there).
    arguments.update(options)
    arguments.update(connect_timeout=POSTGRES_CONNECT_TIMEOUT_SECONDS, options=POSTGRES_OPTIONS)
    return arguments


def _sqlite_file(parts: dict[str, str | None]) -> Path:
    if any(parts[name] for name in ("username", "password", "ipv4host", "ipv6host", "port")):
        raise NotDirect("a SQLite URL with a host")
    database = unquote(parts["database"] or "")
    if parts["query"] or database in ("", ":memory:") or database.startswith("file:"):
        raise NotDirect("not a plain SQLite file")
    path = Path(database)
    if not path.is_file():
        raise NotDirect("no such file: the full path creates it, or says what is wrong")
    return path


def _sqlite(path: Path, key: str) -> tuple[str | None, ConfigKey]:
    import sqlite3

    # mode=rw: never create a file here (rule 3); any error is the full path's to report.
    uri = f"file:{quote(str(path.resolve()), safe='/')}?mode=rw"
    try:
        connection = sqlite3.connect(
            uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_SECONDS, isolation_level=None
        )
    except sqlite3.Error as e:
        raise NotDirect(f"SQLite: {e}") from None
    try:
        return _read(connection, key, "?", sqlite3.Error)
    finally:
        connection.close()


def _postgres(url: str, arguments: dict[str, Any], key: str) -> tuple[str | None, ConfigKey]:
    import psycopg

    try:
        connection = psycopg.connect(**arguments, autocommit=True)
    except psycopg.OperationalError as e:
        from qwentrade.adapters.sql.engine import connect_failure, normalize_url

        raise connect_failure(normalize_url(url), e) from None
    except psycopg.Error as e:
        raise NotDirect(f"psycopg: {type(e).__name__}") from None
    with connection:
        return _read(connection, key, "%s", psycopg.Error)


def _read(
    connection: Any, key: str, placeholder: str, driver_error: type[Exception]
) -> tuple[str | None, ConfigKey]:
    """The stored text of ``key`` (None: not stored) and its spec, on a schema at head."""
    try:
        revisions = [
            row[0] for row in connection.execute(f"SELECT version_num FROM {VERSION_TABLE}")
        ]
    except driver_error as e:  # no version table: an empty database, the full path migrates
        raise NotDirect(f"no schema revision ({type(e).__name__})") from None
    if revisions != [HEAD_REVISION]:
        raise NotDirect(f"schema revision {revisions}, not {HEAD_REVISION}")
    spec = config_key(key)  # after the schema check, as in the full path
    try:
        row = connection.execute(
            f"SELECT value FROM config WHERE key = {placeholder}", (spec.name,)
        ).fetchone()
    except driver_error as e:
        raise NotDirect(f"config table unreadable ({type(e).__name__})") from None
    return (None if row is None else row[0]), spec
