"""The SQL adapter: schema, migrations and repositories on PostgreSQL (psycopg 3) or SQLite.

Entry points: :func:`make_engine`, :func:`upgrade` / :func:`ensure_schema` (migrations),
:class:`SqlRepositories` and :class:`SqlConfigStore`.

Each name is imported on first use: a start whose schema is current reads its revision
without importing Alembic (``revision.py``), and a command that reads the config table
imports no candle code.
"""

from typing import TYPE_CHECKING

from qwentrade._lazy import lazy_exports

if TYPE_CHECKING:
    from qwentrade.adapters.sql.config_store import SqlConfigStore
    from qwentrade.adapters.sql.engine import DatabaseNotFound, DatabaseUnavailable, make_engine
    from qwentrade.adapters.sql.migrate import (
        SchemaVersionError,
        check_revision,
        current_revision,
        downgrade,
        head_revision,
        upgrade,
    )
    from qwentrade.adapters.sql.repositories import SqlRepositories
    from qwentrade.adapters.sql.revision import ensure_schema

_MODULES = {
    "SqlConfigStore": "config_store",
    "DatabaseNotFound": "engine",
    "DatabaseUnavailable": "engine",
    "make_engine": "engine",
    "SchemaVersionError": "migrate",
    "check_revision": "migrate",
    "current_revision": "migrate",
    "downgrade": "migrate",
    "head_revision": "migrate",
    "upgrade": "migrate",
    "SqlRepositories": "repositories",
    "ensure_schema": "revision",
}
__getattr__, __dir__ = lazy_exports(
    globals(), {name: f"{__name__}.{module}" for name, module in _MODULES.items()}
)

__all__ = [
    "DatabaseNotFound",
    "DatabaseUnavailable",
    "SchemaVersionError",
    "SqlConfigStore",
    "SqlRepositories",
    "check_revision",
    "current_revision",
    "downgrade",
    "ensure_schema",
    "head_revision",
    "make_engine",
    "upgrade",
]
