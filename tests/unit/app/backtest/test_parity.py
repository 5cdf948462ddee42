"""The research path equals the parity path trade for trade on real OKX candles (ETH, a
month of 15m candles from tests/data): entry/exit times, prices, sizes, PnL, fees and
funding within 1e-9, under the default rules and under each rule's alternative (percent
stops and exact fills, the path order inside a candle, isolated margin with liquidations,
stored funding rates, a later start)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from backtest_helpers import ETH, ETH_FILE, assert_same_trades, real_market

from qwentrade.app.backtest import data, run
from qwentrade.app.backtest.params import BacktestParams
from qwentrade.app.backtest.replay import signals

CASES = {
    "defaults": {},
    "percent stops, exact fills, path order": {
        "POLICY_STOP_MODE": "percent",
        "spread_bps": 0,
        "slippage_bps": 0,
        "intrabar": "path",
    },
    # stops and targets so close that candles often reach both: the stop-first rule decides
    "tight stops and targets": {"POLICY_SL_ATR_MULTIPLE": 0.5, "POLICY_TP_ATR_MULTIPLE": 0.6},
    # a small account: signals refused for want of margin are cancelled, older ones wait
    "a small account": {"balance": 260, "POLICY_MARGIN_PER_TRADE": 120},
    "isolated x100 with liquidations": {
        "TRADING_MARGIN_MODE": "isolated",
        "POLICY_LEVERAGE": 100,
        "POLICY_SL_ATR_MULTIPLE": 20,
        "POLICY_MARGIN_PER_TRADE": 300,
    },
}


@pytest.fixture(scope="module")
def eth_market():
    return real_market()


@pytest.mark.parametrize("name", list(CASES))
def test_fast_equals_replay_on_real_candles(eth_market, name):
    params = BacktestParams.of(CASES[name])
    verdicts = signals(eth_market, params)
    fast = run(eth_market, params, engine="fast", verdicts=verdicts)
    replay = run(eth_market, params, engine="replay", verdicts=verdicts)
    assert fast.trades.height > 50  # a month of real signals trades a lot
    assert_same_trades(fast.trades, replay.trades)
    assert fast.stats["end_balance"] == pytest.approx(replay.stats["end_balance"], abs=1e-6)
    # the equity at every close too (floats: within a micro-USDT)
    difference = (fast.equity["equity"] - replay.equity["equity"]).abs().max()
    assert difference < 1e-6
    if name.startswith("isolated"):
        assert "liquidation" in fast.trades["exit_reason"].to_list()


def test_fast_equals_replay_with_stored_funding_and_a_later_start():
    candles = data.read_file(ETH_FILE)
    start = datetime(2022, 12, 1, tzinfo=UTC)
    # real-looking rates that change sign at each settlement
    settle = [int(start.timestamp() * 1000) + k * 8 * 3_600_000 for k in range(60)]
    rates = {t: Decimal("0.0003") * (-1) ** k for k, t in enumerate(settle)}
    market = data.market(candles, ETH, start=start, funding=rates)
    assert market.funding_source == "stored+flat"
    params = BacktestParams()
    verdicts = signals(market, params)
    fast = run(market, params, engine="fast", verdicts=verdicts)
    replay = run(market, params, engine="replay", verdicts=verdicts)
    assert fast.trades["entry_time"].min() >= start
    assert (fast.trades["funding"] != 0).any()
    assert_same_trades(fast.trades, replay.trades)
