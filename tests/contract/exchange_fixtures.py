"""Implementations of the Exchange port that the contract suite runs against.

Adding an implementation is one entry in ``VENUES``: a factory returning a
:class:`Venue` (the port object, what it can do, and how to tear it down). Differences
between implementations are declared as capabilities on the Venue, never discovered with
``isinstance`` in a test.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import attrs

from okx_helpers import okx_client
from qwentrade.adapters.sim import GeneratedPath, SimEngine, SimExchange, SteppedClock
from qwentrade.ports.config import ConfigStore
from qwentrade.ports.exchange import Exchange
from qwentrade.testing.fake_okx import FakeOkx, FaultPlan

SYMBOL = "BTC-USDT-SWAP"
PATH_START = datetime(2024, 3, 1, tzinfo=UTC)


@attrs.define
class Venue:
    """One Exchange implementation under test.

    ``exchange`` is the port object. ``advance(delta)`` moves the venue's market time on
    (None when the venue follows real time only). ``wire_faults`` is True when the venue
    can inject transport faults (the fake OKX server): ``faults`` is then its FaultPlan
    and ``config`` the ConfigStore the adapter reads (API_MAX_RETRIES, API_REQUEST_TIMEOUT).
    ``starting_cash`` is the USDT the account starts with. ``close`` releases whatever the
    factory started.
    """

    name: str
    exchange: Exchange
    symbol: str = SYMBOL
    starting_cash: Decimal = Decimal(10000)
    advance: Callable[[timedelta], None] | None = None
    wire_faults: bool = False
    faults: FaultPlan | None = None
    config: ConfigStore | None = None
    close: Callable[[], None] = lambda: None


def sim_venue() -> Venue:
    """The simulated exchange on a stepped clock, 30 days into a generated market."""
    clock = SteppedClock(PATH_START + timedelta(days=30, minutes=7))
    engine = SimEngine(
        balance=Decimal(10000),
        clock=clock,
        price_path=GeneratedPath(seed=11, start=PATH_START),
    )

    def advance(delta: timedelta) -> None:
        clock.advance(delta)
        engine.sync()

    return Venue(name="sim", exchange=SimExchange(engine), advance=advance)


def okx_venue() -> Venue:
    """OkxExchange (through a real PermitGate) talking to the fake OKX server on loopback.

    The gate's limits are opened up (the fake's own OKX limits still apply) and the
    adapter's waits shortened (backoff, order expiry), so the suite runs in seconds.
    """
    server = FakeOkx(history_days=3, seed=11, balance=10000).start()
    exchange, config = okx_client(server)
    return Venue(
        name="okx-over-fake-server",
        exchange=exchange,
        wire_faults=True,
        faults=server.faults,
        config=config,
        close=server.stop,
    )


#: name -> factory.
VENUES: dict[str, Callable[[], Venue]] = {
    "sim": sim_venue,
    "okx-over-fake-server": okx_venue,
}
