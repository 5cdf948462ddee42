"""The replay skips closes at which nothing can happen (flat with no signal to act on)
and coasts the engine over candles that reach no trigger while a position is open: the
same trades and the same equity at every close as stepping the engine close by close."""

from __future__ import annotations

import pytest
from backtest_helpers import assert_same_trades, real_market

from qwentrade.adapters.sim import SimEngine
from qwentrade.app.backtest import replay, run
from qwentrade.app.backtest.params import BacktestParams


@pytest.fixture(scope="module")
def eth_market():
    return real_market()


@pytest.mark.parametrize(
    "overrides",
    [
        {},
        {"TRADING_MARGIN_MODE": "isolated", "POLICY_LEVERAGE": 100, "POLICY_SL_ATR_MULTIPLE": 20},
    ],
)
def test_skipping_changes_no_trade_and_no_equity(eth_market, monkeypatch, overrides):
    params = BacktestParams.of(overrides)
    verdicts = replay.signals(eth_market, params)
    flat_calls = []
    real_flat = replay._flat

    def counting(engine, symbol):
        found = real_flat(engine, symbol)
        flat_calls.append(found)
        return found

    coasted = []
    real_coast = SimEngine.coast

    def coasting(engine, times):
        reached = real_coast(engine, times)
        coasted.append(len(reached))
        return reached

    monkeypatch.setattr(replay, "_flat", counting)
    monkeypatch.setattr(SimEngine, "coast", coasting)
    skipped = run(eth_market, params, engine="replay", verdicts=verdicts)
    monkeypatch.setattr(replay, "_flat", lambda engine, symbol: False)
    monkeypatch.setattr(SimEngine, "coast", lambda engine, times: [])
    stepped = run(eth_market, params, engine="replay", verdicts=verdicts)
    assert skipped.trades.height > 50
    assert_same_trades(skipped.trades, stepped.trades, tolerance=0)
    assert skipped.equity["equity"].to_list() == stepped.equity["equity"].to_list()
    assert True in flat_calls  # the month has flat stretches with no signal to act on
    # most closes in a position are coasted over, and some coasts stop at once
    assert sum(coasted) > eth_market.candles.height / 2 and 0 in coasted
