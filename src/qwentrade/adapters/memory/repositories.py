"""All in-memory repositories in one bundle, verified by the same contract suites as SQL."""

from __future__ import annotations

import attrs

from qwentrade.adapters.memory.config_store import MemoryConfigStore
from qwentrade.adapters.memory.history import (
    MemoryHistoryRepository,
    MemorySignalRepository,
    MemoryStatusRepository,
)
from qwentrade.adapters.memory.series import MemoryKlineRepository, MemoryMarketSeriesRepository
from qwentrade.adapters.memory.trading import (
    MemoryIntentRepository,
    MemoryPendingRepository,
    MemoryRelationRepository,
)


@attrs.frozen
class MemoryRepositories:
    """Every repository (and the config store) in memory; attribute names as SqlRepositories."""

    klines: MemoryKlineRepository = attrs.Factory(MemoryKlineRepository)
    market: MemoryMarketSeriesRepository = attrs.Factory(MemoryMarketSeriesRepository)
    history: MemoryHistoryRepository = attrs.Factory(MemoryHistoryRepository)
    signals: MemorySignalRepository = attrs.Factory(MemorySignalRepository)
    pending: MemoryPendingRepository = attrs.Factory(MemoryPendingRepository)
    intents: MemoryIntentRepository = attrs.Factory(MemoryIntentRepository)
    relations: MemoryRelationRepository = attrs.Factory(MemoryRelationRepository)
    status: MemoryStatusRepository = attrs.Factory(MemoryStatusRepository)
    config: MemoryConfigStore = attrs.Factory(MemoryConfigStore)
