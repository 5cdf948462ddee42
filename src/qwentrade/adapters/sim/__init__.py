"""The simulated exchange: one in-memory OKX-like venue for paper trading, offline runs,
backtests and (behind the fake OKX server) the OKX adapter's contract tests."""

from qwentrade.adapters.sim.clock import AcceleratedClock, RealClock, SteppedClock
from qwentrade.adapters.sim.engine import SimEngine
from qwentrade.adapters.sim.exchange import SimExchange, SimPrivateStream
from qwentrade.adapters.sim.prices import GeneratedPath, PricePath, ReplayPath
from qwentrade.adapters.sim.state import FeeRates

__all__ = [
    "AcceleratedClock",
    "FeeRates",
    "GeneratedPath",
    "PricePath",
    "RealClock",
    "ReplayPath",
    "SimEngine",
    "SimExchange",
    "SimPrivateStream",
    "SteppedClock",
]
