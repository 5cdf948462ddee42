"""The response cache's store, bounded: a client asking ever new queries (a new ``start``
for each /klines call) must not grow the process without limit."""

from __future__ import annotations

from datetime import timedelta

from litestar.stores.memory import MemoryStore

MAX_ENTRIES = 256  # a /klines answer of 1,000 candles is ~0.5 MB: at most ~130 MB held


class BoundedMemoryStore(MemoryStore):
    """Litestar's memory store keeping at most ``max_entries`` keys (the oldest go first)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        super().__init__()
        self.max_entries = max_entries

    async def set(
        self, key: str, value: str | bytes, expires_in: int | timedelta | None = None
    ) -> None:
        await super().set(key, value, expires_in)
        # No await from here on: nothing else on the event loop runs in between.
        while len(self._store) > self.max_entries:
            del self._store[next(iter(self._store))]

    @property
    def entries(self) -> int:
        """Keys held now (no ``__len__``: Litestar's registry would take an empty store
        for a missing one and replace it)."""
        return len(self._store)
