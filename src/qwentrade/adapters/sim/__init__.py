"""The simulated exchange: one in-memory OKX-like venue for paper trading, offline runs,
backtests and (behind the fake OKX server) the OKX adapter's contract tests.

Each name is imported on first use (``RealClock`` does not import the engine and polars).
"""

from typing import TYPE_CHECKING

from qwentrade._lazy import lazy_exports

if TYPE_CHECKING:
    from qwentrade.adapters.sim.clock import AcceleratedClock, RealClock, SteppedClock
    from qwentrade.adapters.sim.engine import SimEngine
    from qwentrade.adapters.sim.exchange import SimExchange, SimPrivateStream
    from qwentrade.adapters.sim.prices import GeneratedPath, PricePath, ReplayPath
    from qwentrade.adapters.sim.state import FeeRates

_MODULES = {
    "AcceleratedClock": "clock",
    "RealClock": "clock",
    "SteppedClock": "clock",
    "SimEngine": "engine",
    "SimExchange": "exchange",
    "SimPrivateStream": "exchange",
    "GeneratedPath": "prices",
    "PricePath": "prices",
    "ReplayPath": "prices",
    "FeeRates": "state",
}
__getattr__, __dir__ = lazy_exports(
    globals(), {name: f"{__name__}.{module}" for name, module in _MODULES.items()}
)

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
