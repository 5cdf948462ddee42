"""CachedConfig: a value read is reused for TTL seconds, then read again."""

from qwentrade.adapters.memory import MemoryConfigStore
from qwentrade.adapters.okx.config_cache import CachedConfig


class Counting(MemoryConfigStore):
    def __init__(self):
        super().__init__()
        self.reads = 0

    def get(self, key):
        self.reads += 1
        return super().get(key)


class Broken:
    def get(self, key):
        raise RuntimeError("database down")


def test_a_value_is_reused_within_the_ttl_and_a_change_is_seen_after_it():
    now = [0.0]
    store = Counting()
    cached = CachedConfig(store, ttl=1.0, clock=lambda: now[0])
    assert [cached.get("WS_PING_TIMEOUT") for _ in range(50)] == [5.0] * 50
    assert store.reads == 1
    store.set("WS_PING_TIMEOUT", 2)
    now[0] = 0.9
    assert cached.get("WS_PING_TIMEOUT") == 5.0
    now[0] = 1.0
    assert cached.get("WS_PING_TIMEOUT") == 2.0 and store.reads == 2


def test_without_a_store_or_when_it_fails_the_last_value_or_default_applies():
    assert CachedConfig(None).get("WS_HEARTBEAT_INTERVAL") == 20.0
    assert CachedConfig(Broken()).get("WS_RECONNECT_INTERVAL") == 5.0
