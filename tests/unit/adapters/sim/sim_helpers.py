"""Hand-made price paths and engines for the simulated exchange's tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from qwentrade.adapters.sim import ReplayPath, SimEngine, SteppedClock
from qwentrade.adapters.sim.model import Costs
from qwentrade.adapters.sim.prices import Series
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS
from qwentrade.domain.market import to_ms

BTC = "BTC-USDT-SWAP"
ETH = "ETH-USDT-SWAP"
START = datetime(2024, 1, 1, tzinfo=UTC)
M15 = timedelta(minutes=15)
D = Decimal
#: no spread, no slippage: fills at the last or trigger price (what most tests compute)
EXACT = Costs.exact()


def flat(price: float, n: int = 1) -> list[tuple[float, float, float, float]]:
    """``n`` candles that never move from ``price``."""
    return [(price, price, price, price)] * n


def path(
    rows: list[tuple[float, float, float, float]],
    start: datetime = START,
    symbol: str = BTC,
    funding: dict[datetime, Decimal] | None = None,
    more: dict[str, list[tuple[float, float, float, float]]] | None = None,
) -> ReplayPath:
    """A 15m path of (open, high, low, close) rows from ``start`` (volume 100 each)."""
    table = {symbol: rows, **(more or {})}
    series = {}
    for name, candles in table.items():
        ts = [to_ms(start + i * M15) for i in range(len(candles))]
        o, h, low, c = zip(*candles, strict=True) if candles else ((), (), (), ())
        series[name] = Series(ts, o, h, low, c, [100.0] * len(candles))
    rates = {symbol: {to_ms(t): r for t, r in (funding or {}).items()}}
    return ReplayPath(series, rates)


def engine(
    rows: list[tuple[float, float, float, float]],
    balance: Decimal | int = 10000,
    start: datetime = START,
    **kwargs,
) -> tuple[SimEngine, SteppedClock]:
    """An engine over ``rows`` for BTC (plus ``more`` symbols) on a stepped clock.

    Fills are exact (``EXACT`` costs) unless ``costs`` is given.
    """
    kwargs.setdefault("costs", EXACT)
    more = kwargs.pop("more", None)
    funding = kwargs.pop("funding", None)
    clock = SteppedClock(start)
    symbols = [BTC, *(more or {})]
    instruments = [DEFAULT_INSTRUMENTS[s] for s in symbols]
    sim = SimEngine(
        instruments=instruments,
        balance=D(balance),
        clock=clock,
        price_path=path(rows, start, funding=funding, more=more),
        **kwargs,
    )
    return sim, clock


def at(minutes: float) -> datetime:
    """``START`` plus ``minutes``."""
    return START + timedelta(minutes=minutes)
