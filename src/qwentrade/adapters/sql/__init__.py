"""The SQL adapter: schema, migrations and repositories on PostgreSQL (psycopg 3) or SQLite.

Entry points: :func:`make_engine`, :func:`upgrade` / :func:`ensure_schema` (migrations),
:class:`SqlRepositories` and :class:`SqlConfigStore`.
"""

from qwentrade.adapters.sql.config_store import SqlConfigStore
from qwentrade.adapters.sql.engine import DatabaseNotFound, DatabaseUnavailable, make_engine
from qwentrade.adapters.sql.migrate import (
    SchemaVersionError,
    check_revision,
    current_revision,
    downgrade,
    ensure_schema,
    head_revision,
    upgrade,
)
from qwentrade.adapters.sql.repositories import SqlRepositories

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
