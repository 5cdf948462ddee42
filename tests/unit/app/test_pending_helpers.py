"""Helpers shared by the pending-order and signal-policy tests (this module has no tests).

A market is a simulated exchange over a hand-made 15m path of flat candles: the price is
``prices[i]`` throughout candle ``i`` (and the last one afterwards), so a test moves the
price by moving the stepped clock to a candle.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from qwentrade.adapters.sim import ReplayPath, SimEngine, SimExchange, SteppedClock
from qwentrade.adapters.sim.prices import Series
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS
from qwentrade.domain.market import to_ms

BTC = "BTC-USDT-SWAP"
ETH = "ETH-USDT-SWAP"
SOL = "SOL-USDT-SWAP"
START = datetime(2024, 1, 1, tzinfo=UTC)
M15 = timedelta(minutes=15)


def at(candle: int) -> datetime:
    """A time inside candle ``candle`` of the path (one minute after it opens)."""
    return START + candle * M15 + timedelta(minutes=1)


def market(
    prices: list[float], others: dict[str, list[float]] | None = None, balance: int = 100_000
) -> tuple[SimEngine, SimExchange, SteppedClock]:
    """A simulated exchange for BTC at ``prices`` (and ``others``), on a stepped clock."""
    table = {BTC: prices, **(others or {})}
    series = {}
    for symbol, values in table.items():
        ts = [to_ms(START + i * M15) for i in range(len(values))]
        series[symbol] = Series(ts, values, values, values, values, [100.0] * len(values))
    clock = SteppedClock(START)
    engine = SimEngine(
        instruments=[DEFAULT_INSTRUMENTS[s] for s in table],
        balance=Decimal(balance),
        clock=clock,
        price_path=ReplayPath(series),
    )
    return engine, SimExchange(engine), clock


class Flaky:
    """Wraps a trading service: counts ``open_position`` calls by key, and raises
    ``error`` (a crash stand-in) on the first ``failures`` calls before reaching it."""

    def __init__(self, inner, failures: int = 0, error: Exception | None = None) -> None:
        self.inner = inner
        self.failures = failures
        self.error = error or RuntimeError("killed between TRIGGERED and the open")
        self.calls: list[str | None] = []
        self._lock = threading.Lock()

    def open_position(self, *args, **kwargs) -> str:
        with self._lock:
            self.calls.append(kwargs.get("key"))
            if self.failures > 0:
                self.failures -= 1
                raise self.error
        return self.inner.open_position(*args, **kwargs)

    def __getattr__(self, name: str):
        return getattr(self.inner, name)
