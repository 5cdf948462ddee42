"""sim mode end to end: the simulated market on an accelerated clock, the background
components ``qwentrade serve`` starts (trading leases, reconciliation, sync with detection,
the pending monitor, the signal policy), a SQLite database. Signals fire at 15m closes,
the policy opens positions with their stop-losses held by the exchange (at market, or
through pending orders the monitor triggers), and the exchange's stop-loss/take-profit
orders close them; the relations say so.

The run is bounded by real time (``SIM_TRADING_SECONDS``, default 40) and ends as soon
as a position has been opened and another (or the same) closed by its stop-loss or
take-profit. Nothing here is timed: the bound only stops a broken run.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from qwentrade.adapters.sim import AcceleratedClock, SimExchange
from qwentrade.app.container import Container, _once, build, prepare_database
from qwentrade.app.settings import Settings
from qwentrade.domain.venue import AlgoLeg, AlgoState

# 15 simulated minutes per real second: a candle closes every second.
SPEED = 900.0
START = datetime(2025, 1, 20, 6, tzinfo=UTC)
SECONDS = float(os.environ.get("SIM_TRADING_SECONDS", "40"))
# Nothing in this run closes a position itself (the policy only opens): every close is
# the exchange's stop-loss or take-profit, and the relation names the leg that fired
# whichever path saw it first (the stream's algo event, its position event, or a
# reconciliation finding the position gone: the closing order's source tells).
LEG_REASONS = {AlgoLeg.STOP_LOSS: "stop_loss", AlgoLeg.TAKE_PROFIT: "take_profit"}


class PausableTime:
    """A monotonic time source the test can hold still while it looks at the exchange.

    Every read of the simulated exchange first moves its market to the clock's now, so at
    900x two reads a few milliseconds apart see different markets: a stop-loss firing
    between ``positions()`` and ``open_algos()`` looked like an open position without its
    stop. Held, simulated time stands still for every thread (the services keep running
    but the market does not move), and the held real time is not counted afterwards.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._held_at: float | None = None
        self._skipped = 0.0

    def __call__(self) -> float:
        with self._lock:
            if self._held_at is not None:
                return self._held_at
            return time.monotonic() - self._skipped

    @contextmanager
    def held(self) -> Iterator[None]:
        at = self()
        with self._lock:
            self._held_at = at
        try:
            yield
        finally:
            with self._lock:
                self._skipped = time.monotonic() - at
                self._held_at = None


class FastContainer(Container):
    """The sim container with an accelerated clock (the one provider replaced)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        self.time = PausableTime()

    @_once
    def clock(self) -> AcceleratedClock:  # type: ignore[override]
        return AcceleratedClock(START, SPEED, monotonic=self.time)


def fast_container(tmp_path, use_pending: bool = False) -> FastContainer:
    settings = Settings.from_env(
        {
            "QWENTRADE_MODE": "sim",
            "QWENTRADE_DATABASE_URL": f"sqlite:///{tmp_path / 'sim.db'}",
            "QWENTRADE_LOG_FILE": "",
        }
    )
    build(settings)  # the mode's checks, as at a real start
    container = FastContainer(settings)
    prepare_database(container)
    config = container.repositories().config
    # a short history (the detector needs 100 15m and 60 4h candles) and a lower signal
    # threshold, so a run of a simulated day sees several signals
    for key, value in {
        "KLINE_15M_START_DAYS": 3,
        "KLINE_4H_START_DAYS": 15,
        "KLINE_1D_START_DAYS": 15,
        "DETECTOR_SIGNAL_THRESHOLD": 13,
        "RECONCILE_INTERVAL": 60,
        "POLICY_USE_PENDING": use_pending,
    }.items():
        config.set(key, value)
    return container


@pytest.mark.parametrize("use_pending", [False, True], ids=["market", "pending"])
def test_signals_open_protected_positions_and_the_exchange_closes_them(tmp_path, use_pending):
    container = fast_container(tmp_path, use_pending)
    assert container.signal_policy().enabled()  # on by default in sim
    exchange = container.exchange()
    assert isinstance(exchange, SimExchange)
    engine = exchange.engine
    relations = container.repositories().relations
    components = container.background_components()
    unprotected: list[str] = []
    for _name, component in components:
        component.start()
    try:
        deadline = time.monotonic() + SECONDS
        while time.monotonic() < deadline:
            engine.sync()  # as the engine runner would: stops fire between calls too
            with container.time.held():  # the positions and their algos of one moment
                for held in exchange.positions():
                    algos = exchange.open_algos(held.symbol)
                    if held.is_open and not any(a.sl_trigger_price is not None for a in algos):
                        unprotected.append(held.symbol)
            found = relations.find(limit=None)
            by_signal = [r for r in found if r.signal_id is not None]
            if any(r.status == "CLOSED" for r in by_signal):
                break
            time.sleep(0.2)
    finally:
        for _name, component in reversed(components):
            component.stop(5)
    found = relations.find(limit=None)
    by_signal = [r for r in found if r.signal_id is not None]
    assert by_signal, f"no position opened on a signal within {SECONDS:g} s"
    for relation in by_signal:
        assert relation.stop_loss_price is not None  # every entry carried its stop-loss
        # with POLICY_USE_PENDING every entry came from a pending order the monitor triggered
        assert (relation.pending_order_id is not None) == use_pending
        signal = container.repositories().signals.get(relation.signal_id)
        assert signal is not None and signal.status == "EXECUTED"
    closed = [r for r in by_signal if r.status == "CLOSED"]
    assert closed, [(r.symbol, r.status, r.close_reason) for r in by_signal]
    fired = {a.order_id: a for a in engine.algo_history(state=AlgoState.EFFECTIVE)}
    for relation in closed:
        # the exchange's stop-loss/take-profit fired and sent the closing order
        algo = fired.get(relation.close_order_id)
        assert algo is not None, (relation.symbol, relation.close_order_id, fired)
        assert algo.symbol == relation.symbol
        assert relation.close_reason == LEG_REASONS[algo.triggered_leg]
        assert relation.pnl is not None and relation.close_time is not None
    # a stop-loss was in place whenever a position was seen open (a just-filled entry's
    # attached stop is placed with the fill, so this holds at every look)
    assert unprotected == []
    # one position per symbol, and every symbol's trades opened one at a time
    open_now = [r for r in found if r.status == "OPEN"]
    assert len({r.symbol for r in open_now}) == len(open_now)
    assert all(Decimal(str(p.contracts)) > 0 for p in exchange.positions() if p.is_open)
