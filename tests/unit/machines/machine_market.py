"""The market the exchange state machines start in: two symbols on a generated price
path, the simulated engine on a stepped clock two days into it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from qwentrade.adapters.sim import GeneratedPath, SimEngine, SteppedClock
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS

START = datetime(2024, 5, 1, tzinfo=UTC)
SYMBOLS = ("BTC-USDT-SWAP", "ETH-USDT-SWAP")


def sim_engine(seed: int, cash: Decimal) -> tuple[SteppedClock, SimEngine]:
    """A SimEngine holding ``cash`` USDT over the path of ``seed``, and its clock."""
    clock = SteppedClock(START + timedelta(days=2))
    engine = SimEngine(
        instruments=[DEFAULT_INSTRUMENTS[s] for s in SYMBOLS],
        balance=cash,
        clock=clock,
        price_path=GeneratedPath(SYMBOLS, seed=seed, start=START),
    )
    return clock, engine
