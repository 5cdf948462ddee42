"""SqlConfigStore: typed runtime settings in the ``config`` table.

Every read goes to the database, so a ``qwentrade config set`` from another process is
seen by the next read. When the database cannot be read, the last value read (or the
default) is returned, a warning is logged at most once a minute, and reads skip the
database for a few seconds so an outage does not stall every caller for the connect
timeout.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

import sqlalchemy as sa

from qwentrade.adapters.sql.config_direct import stored_value
from qwentrade.adapters.sql.engine import DatabaseUnavailable
from qwentrade.adapters.sql.schema import config
from qwentrade.domain.config_keys import (
    CONFIG_KEYS,
    ConfigEntry,
    ConfigKey,
    ConfigUnavailable,
    ConfigValue,
    check_combination,
    config_key,
    effective_values,
    entry,
)

log = logging.getLogger(__name__)
RETRY_AFTER_SECONDS = 5.0
WARN_EVERY_SECONDS = 60.0


def _utc_now() -> datetime:
    return datetime.now(UTC)


class SqlConfigStore:
    """ConfigStore on PostgreSQL or SQLite (see ``ports.config``)."""

    def __init__(self, engine: sa.Engine, now: Callable[[], datetime] = _utc_now) -> None:
        self._engine = engine
        self._now = now
        self._last: dict[str, ConfigValue] = {}
        self._lock = threading.Lock()
        self._down_until = 0.0
        self._warned_at = -WARN_EVERY_SECONDS

    def get(self, key: str) -> ConfigValue:
        spec = config_key(key)
        stored = self._read(spec.name)
        if stored is None:
            return self._fallback(spec)
        return self._remember(spec, stored.get(spec.name))

    def all(self) -> list[ConfigEntry]:
        stored = self._read(None)
        entries = []
        for name in sorted(CONFIG_KEYS):
            spec = CONFIG_KEYS[name]
            value = (
                self._fallback(spec) if stored is None else self._remember(spec, stored.get(name))
            )
            entries.append(entry(spec, value))
        return entries

    def set(self, key: str, value: object) -> ConfigValue:
        spec = config_key(key)
        parsed = spec.parse(value)
        row = {
            "key": spec.name,
            "value": spec.format(parsed),
            "value_type": spec.type,
            "description": spec.description,
            "updated_at": self._now(),
        }
        # The dialect's own INSERT, imported here: the PostgreSQL dialect costs a SQLite
        # command (config get) a tenth of its start-up.
        if self._engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert as dialect_insert
        else:
            from sqlalchemy.dialects.sqlite import insert as dialect_insert
        insert = dialect_insert(config).values(row)
        statement = insert.on_conflict_do_update(
            index_elements=["key"],
            set_={name: insert.excluded[name] for name in row if name != "key"},
        )
        self._write(spec, statement, parsed)
        with self._lock:
            self._last[spec.name] = parsed
        return parsed

    def reset(self, key: str) -> ConfigValue:
        spec = config_key(key)
        self._write(spec, sa.delete(config).where(config.c.key == spec.name), spec.default)
        with self._lock:
            self._last.pop(spec.name, None)
        return spec.default

    def _write(self, spec: ConfigKey, statement: sa.Executable, value: ConfigValue) -> None:
        """Run ``statement`` once the keys ``spec`` constrains, read in the same
        transaction, accept ``value`` beside them (cross-key rules)."""
        try:
            with self._engine.connect() as connection:
                if connection.dialect.name == "sqlite":
                    # Take the write lock before the read: a writer committing between the
                    # read and the write would otherwise fail this one at once (BUSY).
                    connection.execution_options(sqlite_begin="IMMEDIATE")
                with connection.begin():
                    if connection.dialect.name == "postgresql":
                        # One config writer at a time: the cross-key check holds.
                        connection.execute(sa.text("LOCK TABLE config IN EXCLUSIVE MODE"))
                    rows = connection.execute(sa.select(config.c.key, config.c.value)).all()
                    stored = dict(rows)
                    check_combination(effective_values(stored) | {spec.name: value}, spec.name)
                    connection.execute(statement)
        except (sa.exc.SQLAlchemyError, DatabaseUnavailable) as e:
            raise ConfigUnavailable(
                f"{spec.name}: the config table could not be written "
                f"({type(e).__name__}); the value was not changed - check the database"
            ) from None

    def _read(self, name: str | None) -> dict[str, str] | None:
        """Stored text by key (one key, or all); None when the database cannot be read."""
        if time.monotonic() < self._down_until:
            return None
        statement = sa.select(config.c.key, config.c.value)
        if name is not None:
            statement = statement.where(config.c.key == name)
        try:
            with self._engine.connect() as connection:
                return {key: value for key, value in connection.execute(statement)}
        except (sa.exc.SQLAlchemyError, DatabaseUnavailable) as e:
            now = time.monotonic()
            self._down_until = now + RETRY_AFTER_SECONDS
            if now - self._warned_at >= WARN_EVERY_SECONDS:
                self._warned_at = now
                log.warning(
                    "config: cannot read the config table (%s); using last known values "
                    "or defaults until it is back",
                    type(e).__name__,
                )
            return None

    def _remember(self, spec: ConfigKey, text: str | None) -> ConfigValue:
        value = stored_value(spec, text)  # the rule `config get` shares (config_direct.py)
        with self._lock:
            self._last[spec.name] = value
        return value

    def _fallback(self, spec: ConfigKey) -> ConfigValue:
        with self._lock:
            return self._last.get(spec.name, spec.default)
