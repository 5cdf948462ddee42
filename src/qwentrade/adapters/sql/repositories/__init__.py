"""The SQL repositories, one module per table family, and :class:`SqlRepositories`.

Each repository's module is imported when it is first used, so a command that reads the
config table, or only asks which candles are missing, imports no polars.
"""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING

import sqlalchemy as sa

from qwentrade._lazy import lazy_exports

if TYPE_CHECKING:
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


class SqlRepositories:
    """Every repository (and the config store) on one engine, each built on first use."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    @classmethod
    def from_engine(cls, engine: sa.Engine) -> SqlRepositories:
        """All repositories on ``engine`` (whose schema must be migrated: see migrate.py)."""
        return cls(engine)

    @cached_property
    def klines(self) -> SqlKlineRepository:
        from qwentrade.adapters.sql.repositories.klines import SqlKlineRepository

        return SqlKlineRepository(self.engine)

    @cached_property
    def market(self) -> SqlMarketSeriesRepository:
        from qwentrade.adapters.sql.repositories.market import SqlMarketSeriesRepository

        return SqlMarketSeriesRepository(self.engine)

    @cached_property
    def history(self) -> SqlHistoryRepository:
        from qwentrade.adapters.sql.repositories.history import SqlHistoryRepository

        return SqlHistoryRepository(self.engine)

    @cached_property
    def signals(self) -> SqlSignalRepository:
        from qwentrade.adapters.sql.repositories.signals import SqlSignalRepository

        return SqlSignalRepository(self.engine)

    @cached_property
    def pending(self) -> SqlPendingRepository:
        from qwentrade.adapters.sql.repositories.trading import SqlPendingRepository

        return SqlPendingRepository(self.engine)

    @cached_property
    def intents(self) -> SqlIntentRepository:
        from qwentrade.adapters.sql.repositories.trading import SqlIntentRepository

        return SqlIntentRepository(self.engine)

    @cached_property
    def relations(self) -> SqlRelationRepository:
        from qwentrade.adapters.sql.repositories.trading import SqlRelationRepository

        return SqlRelationRepository(self.engine)

    @cached_property
    def status(self) -> SqlStatusRepository:
        from qwentrade.adapters.sql.repositories.status import SqlStatusRepository

        return SqlStatusRepository(self.engine)

    @cached_property
    def config(self) -> SqlConfigStore:
        from qwentrade.adapters.sql.config_store import SqlConfigStore

        return SqlConfigStore(self.engine)


_MODULES = {
    "SqlConfigStore": "qwentrade.adapters.sql.config_store",
    "SqlHistoryRepository": f"{__name__}.history",
    "SqlIntentRepository": f"{__name__}.trading",
    "SqlKlineRepository": f"{__name__}.klines",
    "SqlMarketSeriesRepository": f"{__name__}.market",
    "SqlPendingRepository": f"{__name__}.trading",
    "SqlRelationRepository": f"{__name__}.trading",
    "SqlSignalRepository": f"{__name__}.signals",
    "SqlStatusRepository": f"{__name__}.status",
}
__getattr__, __dir__ = lazy_exports(globals(), _MODULES)

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
