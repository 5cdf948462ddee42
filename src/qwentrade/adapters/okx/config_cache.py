"""Config values the adapter reads on hot paths, each reused for a second.

The stream's heartbeat checks run every read tick of every socket, and every REST
request reads its retry count and timeout. Read straight from the config table that is a
database query each time; a change only needs to be seen soon (within :data:`TTL`), not
on the next microsecond. Without a store, or when it cannot be read, the key's default
(``domain.config_keys``) applies: a missing store never stops trading.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from qwentrade.domain.config_keys import CONFIG_KEYS, ConfigValue
from qwentrade.ports.config import ConfigStore

TTL = 1.0  # seconds a value read is reused


class CachedConfig:
    """``get(key)``: the store's value of ``key``, re-read when the last read is TTL old."""

    def __init__(
        self,
        config: ConfigStore | None,
        ttl: float = TTL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._config = config
        self._ttl = ttl
        self._clock = clock
        self._values: dict[str, tuple[float, ConfigValue]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> ConfigValue:
        if self._config is None:
            return CONFIG_KEYS[key].default
        now = self._clock()
        with self._lock:
            cached = self._values.get(key)
        if cached is not None and now - cached[0] < self._ttl:
            return cached[1]
        try:
            value = self._config.get(key)
        except Exception:  # a missing store or key must not stop trading
            value = cached[1] if cached is not None else CONFIG_KEYS[key].default
        with self._lock:
            self._values[key] = (now, value)
        return value
