"""SimEngine.coast: over candles that reach no trigger and no liquidation level the market
moves without a walk, funding still settled; it stops before the first candle that may
fire something. The balances and events equal stepping candle by candle with advance."""

from __future__ import annotations

import pytest
from sim_helpers import BTC, M15, START, D, engine
from test_sim_quiet import random_rows

from qwentrade.adapters.sim.ledger import CLOSE_LIQUIDATION
from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.venue import AttachedAlgo, OrderRequest


def session(rows, margin_mode: str, leverage: int, stop: float, target: float):
    rates = {
        START.replace(hour=h) + k * 24 * 4 * M15: D("0.0004") for h in (0, 8, 16) for k in range(5)
    }
    sim, clock = engine(rows, balance=100000, funding=rates)
    sim.set_leverage(BTC, leverage, margin_mode)
    events: list[object] = []
    sim.subscribe(events.append)
    clock.set(START + 4 * M15)
    price = float(sim.last_price(BTC))
    algo = AttachedAlgo(
        sl_trigger_price=f"{price * (1 - stop):.1f}", tp_trigger_price=f"{price * (1 + target):.1f}"
    )
    sim.place_order(OrderRequest(BTC, "buy", "1", "e1", td_mode=margin_mode, attached_algos=[algo]))
    return sim, clock, events


@pytest.mark.parametrize(
    ("seed", "margin_mode", "leverage", "stop", "target"),
    [(1, "cross", 10, 0.03, 0.03), (4, "cross", 10, 0.02, 0.06), (4, "isolated", 100, 0.5, 0.5)],
)
def test_coast_equals_stepping_and_stops_before_a_trigger(
    seed, margin_mode, leverage, stop, target
):
    rows = random_rows(seed, 300)
    times = [START + (5 + k) * M15 for k in range(290)]
    sim, clock, coast_events = session(rows, margin_mode, leverage, stop, target)
    reached = sim.coast(times)
    stepper, step_clock, step_events = session(rows, margin_mode, leverage, stop, target)
    stepped = []
    for t in times[: len(reached) + 1]:
        step_clock.set(t)
        stepped.append(stepper.balance())
    assert 0 < len(reached) < len(times)
    assert reached == stepped[: len(reached)]
    assert coast_events == [e for e in step_events if e.updated_at <= times[len(reached) - 1]]
    assert any(t.hour % 8 == 0 and t.minute == 0 for t in times[: len(reached)])  # funding
    clock.set(times[len(reached)])
    assert sim.balance() == stepped[len(reached)]
    # here the walk acts: the candle after the last one coasted closes the position
    # (a stop/target, or at x100 isolated the liquidation)
    assert not stepper.positions(BTC)
    if margin_mode == "isolated":
        assert stepper.position_history(BTC)[0].close_type == CLOSE_LIQUIDATION


def test_coast_refuses_times_that_are_not_rising_boundaries():
    sim, _, _ = session(random_rows(1, 50), "cross", 10, 0.03, 0.03)
    with pytest.raises(InvalidInput) as caught:
        sim.coast([START + 6 * M15, START + 6 * M15])
    assert caught.value.field == "times"
    with pytest.raises(InvalidInput):
        sim.coast([START + 5 * M15 + M15 / 2])


def test_coast_does_nothing_with_a_resting_order():
    sim, _, _ = session(random_rows(1, 50), "cross", 10, 0.03, 0.03)
    sim.place_order(OrderRequest(BTC, "buy", "1", "r1", "limit", "1000"))
    assert sim.coast([START + 5 * M15]) == []
