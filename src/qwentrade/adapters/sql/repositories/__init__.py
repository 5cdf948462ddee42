"""The SQL repositories, one module per table family, and :class:`SqlRepositories`."""

from __future__ import annotations

import attrs
import sqlalchemy as sa

from qwentrade.adapters.sql.config_store import SqlConfigStore
from qwentrade.adapters.sql.repositories.history import SqlHistoryRepository
from qwentrade.adapters.sql.repositories.klines import SqlKlineRepository
from qwentrade.adapters.sql.repositories.market import SqlMarketSeriesRepository
from qwentrade.adapters.sql.repositories.signals import SqlSignalRepository
from qwentrade.adapters.sql.repositories.status import SqlStatusRepository
from qwentrade.adapters.sql.repositories.trading import (
    SqlIntentRepository,
    SqlPendingRepository,
    SqlRelationRepository,
)


@attrs.frozen
class SqlRepositories:
    """Every repository (and the config store) on one engine."""

    engine: sa.Engine
    klines: SqlKlineRepository
    market: SqlMarketSeriesRepository
    history: SqlHistoryRepository
    signals: SqlSignalRepository
    pending: SqlPendingRepository
    intents: SqlIntentRepository
    relations: SqlRelationRepository
    status: SqlStatusRepository
    config: SqlConfigStore

    @classmethod
    def from_engine(cls, engine: sa.Engine) -> SqlRepositories:
        """All repositories on ``engine`` (whose schema must be migrated: see migrate.py)."""
        return cls(
            engine,
            SqlKlineRepository(engine),
            SqlMarketSeriesRepository(engine),
            SqlHistoryRepository(engine),
            SqlSignalRepository(engine),
            SqlPendingRepository(engine),
            SqlIntentRepository(engine),
            SqlRelationRepository(engine),
            SqlStatusRepository(engine),
            SqlConfigStore(engine),
        )


__all__ = [
    "SqlConfigStore",
    "SqlHistoryRepository",
    "SqlIntentRepository",
    "SqlKlineRepository",
    "SqlMarketSeriesRepository",
    "SqlPendingRepository",
    "SqlRelationRepository",
    "SqlRepositories",
    "SqlSignalRepository",
    "SqlStatusRepository",
]
