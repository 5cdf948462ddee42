"""Schema migrations, run from code: ``qwentrade db upgrade`` and every service start.

Alembic's script location is inside the package (``migrations/``) and configured here, so
no ``alembic.ini`` is needed. Each command runs in one transaction; on PostgreSQL an
advisory lock and on SQLite ``BEGIN IMMEDIATE`` keep two processes starting at once from
migrating twice.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util import CommandError
from sqlalchemy.engine import URL, Engine

from qwentrade.adapters.sql.engine import make_engine, normalize_url
from qwentrade.adapters.sql.readonly import sqlite_file
from qwentrade.adapters.sql.revision import engine_for
from qwentrade.domain.errors import DomainError, InvalidInput

MIGRATIONS = Path(__file__).with_name("migrations")
_ADVISORY_LOCK = 0x71777472  # "qwtr": serialises concurrent upgrades on one PostgreSQL
log = logging.getLogger(__name__)


class SchemaVersionError(DomainError, RuntimeError):
    """The database's schema revision is one this qwentrade does not know."""


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return config


def script_directory() -> ScriptDirectory:
    """Alembic's view of the packaged revision scripts."""
    return ScriptDirectory.from_config(_config())


def head_revision() -> str:
    """The newest revision this qwentrade ships."""
    head = script_directory().get_current_head()
    assert head is not None, "the package ships no migrations"
    return head


@contextmanager
def _locked(engine: Engine) -> Iterator[sa.Connection]:
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection = connection.execution_options(sqlite_begin="IMMEDIATE")
        with connection.begin():
            if connection.dialect.name == "postgresql":
                lock = sa.text("SELECT pg_advisory_xact_lock(:key)")
                connection.execute(lock, {"key": _ADVISORY_LOCK})
            yield connection


def _run(connection: sa.Connection, action, *args: str) -> None:
    config = _config()
    config.attributes["connection"] = connection
    try:
        action(config, *args)
    except CommandError as e:  # e.g. a target revision that does not exist
        raise InvalidInput(
            "revision",
            f"{e}: use head, a relative step such as -1, or a revision of this qwentrade "
            f"(head {head_revision()})",
        ) from None


def current_revision(target: str | URL | Engine) -> str | None:
    """The database's schema revision, or None when it has none (an empty database).

    Given a URL it only reads: a SQLite file that does not exist is None and not created.
    """
    if isinstance(target, Engine):
        with target.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    url = normalize_url(target)
    path = sqlite_file(url) if url.get_backend_name() == "sqlite" else None
    if path is not None and not path.exists() and path.parent.is_dir():
        return None  # nothing there yet: `db upgrade` will create it
    engine = make_engine(url, read_only=True)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def check_revision(target: str | URL | Engine) -> str | None:
    """The database's revision; raises :class:`SchemaVersionError` when it is newer than
    (unknown to) this qwentrade."""
    revision = current_revision(target)
    _check_known(revision)
    return revision


def _check_known(revision: str | None) -> None:
    if revision is None:
        return
    scripts = script_directory()
    try:
        known = scripts.get_revision(revision) is not None
    except Exception:  # alembic raises several kinds for an unknown id
        known = False
    if not known:
        raise SchemaVersionError(
            f"database schema revision {revision} is newer than this qwentrade "
            f"(head {head_revision()}): upgrade qwentrade"
        )


def upgrade(target: str | URL | Engine, revision: str = "head") -> str:
    """Migrate the database up to ``revision`` (default: head); returns the new revision.

    Refuses (SchemaVersionError) a database that is ahead of this code.
    """
    with engine_for(target) as engine:
        with _locked(engine) as connection:
            before = MigrationContext.configure(connection).get_current_revision()
            _check_known(before)
            _run(connection, command.upgrade, revision)
        after = current_revision(engine) or ""
        if after != (before or ""):
            # The one line a migration leaves (Alembic's own INFO lines are quieted).
            log.info("database schema migrated: %s -> %s", before or "empty", after)
        return after


def downgrade(target: str | URL | Engine, revision: str = "-1") -> str | None:
    """Migrate the database down to ``revision`` (default: one step); returns the new one."""
    with engine_for(target) as engine:
        with _locked(engine) as connection:
            before = MigrationContext.configure(connection).get_current_revision()
            _run(connection, command.downgrade, revision)
        after = current_revision(engine)
        if after != before:
            log.info("database schema migrated down: %s -> %s", before, after or "empty")
        return after
