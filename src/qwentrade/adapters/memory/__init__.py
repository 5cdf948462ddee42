"""In-memory repositories and config store (unit tests, notebooks, the sim demo)."""

from qwentrade.adapters.memory.config_store import MemoryConfigStore
from qwentrade.adapters.memory.history import (
    MemoryHistoryRepository,
    MemorySignalRepository,
    MemoryStatusRepository,
)
from qwentrade.adapters.memory.repositories import MemoryRepositories
from qwentrade.adapters.memory.series import MemoryKlineRepository, MemoryMarketSeriesRepository
from qwentrade.adapters.memory.trading import (
    MemoryIntentRepository,
    MemoryPendingRepository,
    MemoryRelationRepository,
)

__all__ = [
    "MemoryConfigStore",
    "MemoryHistoryRepository",
    "MemoryIntentRepository",
    "MemoryKlineRepository",
    "MemoryMarketSeriesRepository",
    "MemoryPendingRepository",
    "MemoryRelationRepository",
    "MemoryRepositories",
    "MemorySignalRepository",
    "MemoryStatusRepository",
]
