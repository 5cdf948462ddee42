"""The engine skips the walk of a candle in which nothing can fire (``matching.quiet``):
the same fills, closes, funding, balances and events as walking every segment."""

from __future__ import annotations

import random

import pytest
from sim_helpers import BTC, START, D, engine

from qwentrade.adapters.sim import matching
from qwentrade.adapters.sim.ledger import CLOSE_LIQUIDATION
from qwentrade.domain.venue import AttachedAlgo, OrderRequest


def random_rows(seed: int, n: int) -> list[tuple[float, float, float, float]]:
    rng = random.Random(seed)
    rows, price = [], 100000.0
    for _ in range(n):
        close = price * (1 + rng.gauss(0, 0.004))
        high = max(price, close) * (1 + abs(rng.gauss(0, 0.002)))
        low = min(price, close) * (1 - abs(rng.gauss(0, 0.002)))
        rows.append((round(price, 1), round(high, 1), round(low, 1), round(close, 1)))
        price = close * (1 + rng.gauss(0, 0.0005))  # small gaps between candles
    return rows


def trade_through(rows, seed: int, leverage: int, margin_mode: str) -> list[object]:
    """Open positions with stops/targets at random distances, one after another, step
    candle by candle with funding; every event the engine emitted, then the balance."""
    rng = random.Random(seed)
    rates = {START.replace(hour=h): D("0.0003") for h in (0, 8, 16)}
    sim, _ = engine(rows, balance=100000, funding=rates)
    sim.set_leverage(BTC, leverage, margin_mode)
    events: list[object] = []
    sim.subscribe(events.append)
    for n in range(len(rows) - 2):
        sim.step()
        if not sim.positions(BTC):
            price = float(sim.last_price(BTC))
            side = rng.choice(("buy", "sell"))
            sign = 1 if side == "buy" else -1
            stop = price * (1 - sign * rng.uniform(0.002, 0.05))
            target = price * (1 + sign * rng.uniform(0.002, 0.05))
            algo = AttachedAlgo(sl_trigger_price=f"{stop:.1f}", tp_trigger_price=f"{target:.1f}")
            sim.place_order(
                OrderRequest(BTC, side, "1", f"e{n}", td_mode=margin_mode, attached_algos=[algo])
            )
    events.append(sim.balance())
    events.extend(sim.position_history(BTC, limit=500))
    return events


@pytest.mark.parametrize(
    ("seed", "leverage", "margin_mode"), [(1, 10, "cross"), (2, 10, "cross"), (3, 100, "isolated")]
)
def test_skipping_quiet_candles_changes_nothing(monkeypatch, seed, leverage, margin_mode):
    rows = random_rows(seed, 400)
    quiet_calls = []
    real_quiet = matching.quiet

    def counting(*args):
        found = real_quiet(*args)
        quiet_calls.append(found)
        return found

    monkeypatch.setattr(matching, "quiet", counting)
    skipped = trade_through(rows, seed, leverage, margin_mode)
    monkeypatch.setattr(matching, "quiet", lambda *args: False)
    walked = trade_through(rows, seed, leverage, margin_mode)
    assert skipped == walked
    closes = [e for e in walked if getattr(e, "size", None) == 0]
    assert len(closes) > 5
    if margin_mode == "isolated":  # x100: some positions end liquidated
        assert any(getattr(r, "close_type", None) == CLOSE_LIQUIDATION for r in walked)
    assert quiet_calls.count(True) > 100 and quiet_calls.count(False) > 5
