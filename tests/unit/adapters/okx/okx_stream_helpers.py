"""A fake OKX server, a recording consumer and short intervals for the private stream tests."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from qwentrade.adapters.memory import MemoryConfigStore
from qwentrade.adapters.okx.signing import OkxCredentials
from qwentrade.adapters.okx.stream import OkxPrivateStream
from qwentrade.adapters.sim import GeneratedPath, SimEngine, SteppedClock
from qwentrade.domain.venue import (
    ExchangePosition,
    Order,
    OrderRequest,
    StreamEvent,
    StreamStatus,
    StreamStatusKind,
)
from qwentrade.testing.fake_okx import FakeOkx

BTC = "BTC-USDT-SWAP"
KEY, SECRET, PASSPHRASE = "stream-key", "stream-secret-value", "stream-passphrase"
START = datetime(2024, 3, 1, tzinfo=UTC)


def stepped_engine() -> SimEngine:
    """An engine 3 days into a generated market on a clock that moves only when told."""
    clock = SteppedClock(START + timedelta(days=3, minutes=7))
    return SimEngine(
        balance=Decimal(10000), clock=clock, price_path=GeneratedPath(seed=7, start=START)
    )


def fake_okx(**extra: Any) -> FakeOkx:
    options: dict[str, Any] = {
        "api_key": KEY,
        "secret": SECRET,
        "passphrase": PASSPHRASE,
        "rate_limits": False,
        "ws_idle_timeout": 10.0,
        "positions_interval": 60.0,
    }
    return FakeOkx(stepped_engine(), **(options | extra))


def short_intervals(heartbeat: float = 1.0, ping_timeout: float = 1.0, reconnect: float = 0.1):
    """A config store with the shortest heartbeat/ping timeouts allowed and quick reconnects."""
    config = MemoryConfigStore()
    config.set("WS_HEARTBEAT_INTERVAL", heartbeat)
    config.set("WS_PING_TIMEOUT", ping_timeout)
    config.set("WS_RECONNECT_INTERVAL", reconnect)
    return config


def okx_stream(okx: FakeOkx, config=None, secret: str = SECRET, **extra) -> OkxPrivateStream:
    credentials = OkxCredentials(KEY, secret, PASSPHRASE)
    return OkxPrivateStream(okx.ws_url, credentials, config=config or short_intervals(), **extra)


class Recorder:
    """A consumer that keeps every event (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._events: list[StreamEvent] = []

    def __call__(self, event: StreamEvent) -> None:
        with self._lock:
            self._events.append(event)

    @property
    def events(self) -> list[StreamEvent]:
        with self._lock:
            return list(self._events)

    def statuses(self, kind: StreamStatusKind = StreamStatusKind.CONNECTED) -> list[StreamStatus]:
        return [e for e in self.events if isinstance(e, StreamStatus) and e.kind is kind]

    def orders(self, client_order_id: str | None = None) -> list[Order]:
        return [
            e
            for e in self.events
            if isinstance(e, Order)
            and (client_order_id is None or e.client_order_id == client_order_id)
        ]

    def positions(self) -> list[ExchangePosition]:
        return [e for e in self.events if isinstance(e, ExchangePosition)]


def wait_for(condition: Callable[[], Any], timeout: float = 5.0, what: str = "condition"):
    """Poll ``condition`` until it returns something truthy; returns that value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def market_buy(engine: SimEngine, client_order_id: str, size: str = "1", side: str = "buy"):
    return engine.place_order(OrderRequest(BTC, side, size, client_order_id))
