"""The ConfigStore port: typed runtime settings kept in the database (table ``config``).

Keys, types, defaults, ranges and descriptions are data in ``domain.config_keys``.
Implementations: ``adapters.sql.SqlConfigStore`` and ``adapters.memory.MemoryConfigStore``.
"""

from __future__ import annotations

from typing import Protocol

from qwentrade.domain.config_keys import ConfigEntry, ConfigValue


class ConfigStore(Protocol):
    """Typed config values; a change is seen by the next read, in every process.

    Secret-looking and unknown keys are refused with ``InvalidInput`` naming the key.
    """

    def get(self, key: str) -> ConfigValue:
        """The value of ``key`` (its default when never set). When the store cannot be read
        the last value read in this process, else the default, is returned and a warning
        logged: a database outage never stops the readers."""
        ...

    def set(self, key: str, value: object) -> ConfigValue:
        """Check ``value`` (typed, or text such as ``"5"``/``"true"``) and store it; returns
        the parsed value. A bad value raises ``InvalidInput`` naming the key and the old
        value stays. An unreachable store raises ``ConfigUnavailable``."""
        ...

    def reset(self, key: str) -> ConfigValue:
        """Forget the stored value of ``key``; returns its default."""
        ...

    def all(self) -> list[ConfigEntry]:
        """Every key with its effective value, type, default and description, by name."""
        ...
