"""MemoryConfigStore: the ConfigStore port in a dict (values kept as the stored text)."""

from __future__ import annotations

import threading

from qwentrade.domain.config_keys import (
    CONFIG_KEYS,
    ConfigEntry,
    ConfigValue,
    check_combination,
    config_key,
    effective_values,
    entry,
)


class MemoryConfigStore:
    """ConfigStore in memory (see ``ports.config``)."""

    def __init__(self) -> None:
        self._stored: dict[str, str] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> ConfigValue:
        spec = config_key(key)
        with self._lock:
            text = self._stored.get(spec.name)
        return spec.default if text is None else spec.parse(text)

    def set(self, key: str, value: object) -> ConfigValue:
        spec = config_key(key)
        parsed = spec.parse(value)
        with self._lock:
            values = effective_values(self._stored) | {spec.name: parsed}
            check_combination(values, spec.name)
            self._stored[spec.name] = spec.format(parsed)
        return parsed

    def reset(self, key: str) -> ConfigValue:
        spec = config_key(key)
        with self._lock:
            values = effective_values(self._stored) | {spec.name: spec.default}
            check_combination(values, spec.name)
            self._stored.pop(spec.name, None)
        return spec.default

    def all(self) -> list[ConfigEntry]:
        return [entry(spec, self.get(name)) for name, spec in sorted(CONFIG_KEYS.items())]
