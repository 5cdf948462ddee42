"""A TradingService on the simulated exchange (stepped clock) for the trading tests (this
module has no tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs

from qwentrade.adapters.sim import GeneratedPath, SimEngine, SimExchange, SteppedClock
from qwentrade.app.trading import TradingService

BTC = "BTC-USDT-SWAP"
ETH = "ETH-USDT-SWAP"
PATH_START = datetime(2024, 3, 1, tzinfo=UTC)
CASH = Decimal(10000)


@attrs.define
class Desk:
    """The service, its venue and storage, and a way to move the market on."""

    service: TradingService
    exchange: SimExchange
    engine: SimEngine
    clock: SteppedClock
    repos: object

    def advance(self, delta: timedelta) -> None:
        self.clock.advance(delta)
        self.engine.sync()

    def last(self, symbol: str = BTC) -> Decimal:
        return self.engine.last_price(symbol)

    def nothing_written(self) -> bool:
        repos = self.repos
        return (
            repos.intents.find(limit=None) == []  # type: ignore[attr-defined]
            and repos.relations.find(limit=None) == []  # type: ignore[attr-defined]
            and repos.history.orders(limit=None) == []  # type: ignore[attr-defined]
        )

    def nothing_sent(self) -> bool:
        return (
            self.exchange.open_orders() == []
            and self.exchange.order_history(limit=100) == []
            and self.exchange.positions() == []
            and self.exchange.open_algos() == []
        )


def make_desk(repos, seed: int = 11, make: Callable[..., TradingService] | None = None) -> Desk:
    clock = SteppedClock(PATH_START + timedelta(days=30, minutes=7))
    engine = SimEngine(
        balance=CASH, clock=clock, price_path=GeneratedPath(seed=seed, start=PATH_START)
    )
    exchange = SimExchange(engine)
    build = make or TradingService
    service = build(exchange, repos, repos.config, clock)
    return Desk(service, exchange, engine, clock, repos)
