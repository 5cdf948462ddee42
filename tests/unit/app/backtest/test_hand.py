"""Hand-computed backtests: each number below is worked out by hand from the rules (a
signal at a close opens at the next open; ETH-USDT-SWAP: 0.1 ETH a contract; 100 USDT x5
at 1000 = 5 contracts = 0.5 ETH; taker fee 0.05%). Both engines must give them."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from backtest_helpers import EXACT, START, both, hand_market

FLAT = (1000.0, 1000.0, 1000.0, 1000.0)
MIN15 = timedelta(minutes=15)


def only(result):
    (trade,) = result.trades.iter_rows(named=True)
    return trade


@pytest.mark.parametrize("engine", ["fast", "replay"])
def test_a_long_hit_by_its_stop_loss_inside_a_candle(engine):
    # signal at row 1's close; entry at row 2's open 1000; stop 990 (1%), target 1020 (2%)
    rows = [FLAT, FLAT, FLAT, (1000.0, 1005.0, 985.0, 1000.0), FLAT]
    market, verdicts = hand_market(rows, {1: "LONG"})
    trade = only(both(market, verdicts, EXACT)[engine])
    assert trade["side"] == "LONG" and trade["size"] == 5
    assert trade["entry_time"] == START + 2 * MIN15 and trade["entry_price"] == 1000
    assert (trade["stop_loss"], trade["take_profit"]) == (990, 1020)
    assert trade["exit_reason"] == "stop_loss" and trade["exit_price"] == 990
    # green candle: open -> low in its first 5 minutes; 10 of the 15 down: 200 s in
    assert trade["exit_time"] == START + 3 * MIN15 + timedelta(seconds=200)
    assert trade["pnl"] == pytest.approx(-5.0, abs=1e-12)  # 0.5 ETH x -10
    assert trade["fees"] == pytest.approx(-(0.25 + 0.2475), abs=1e-12)  # 500 and 495 x 0.05%
    assert trade["realized"] == pytest.approx(-5.4975, abs=1e-12)


@pytest.mark.parametrize("engine", ["fast", "replay"])
def test_a_take_profit_and_the_stop_first_rule(engine):
    rows = [FLAT, FLAT, FLAT, (1000.0, 1025.0, 995.0, 1010.0), (1010.0, 1030.0, 985.0, 990.0)]
    # row 3 reaches the target 1020 but not the stop 990: a take-profit
    market, verdicts = hand_market([*rows[:4], FLAT], {1: "LONG"})
    trade = only(both(market, verdicts, EXACT)[engine])
    assert trade["exit_reason"] == "take_profit" and trade["exit_price"] == 1020
    assert trade["pnl"] == pytest.approx(10.0, abs=1e-12)
    assert trade["fees"] == pytest.approx(-(0.25 + 0.255), abs=1e-12)
    # row 4 alone (red: open -> high 1030 first) touches both: the stop-loss is taken
    market, verdicts = hand_market(rows[:3] + rows[4:] + [FLAT], {1: "LONG"})
    trade = only(both(market, verdicts, EXACT)[engine])
    assert trade["exit_reason"] == "stop_loss" and trade["exit_price"] == 990
    # the path order (intrabar=path) lets the red candle's high come first
    trade = only(both(market, verdicts, {**EXACT, "intrabar": "path"})[engine])
    assert trade["exit_reason"] == "take_profit" and trade["exit_price"] == 1020


@pytest.mark.parametrize("engine", ["fast", "replay"])
def test_funding_across_a_settlement_and_the_end_of_the_data(engine):
    # entry 06:30, still open at 08:00 (a settlement at the flat 0.01%), closed at the end
    rows = [FLAT] * 12
    market, verdicts = hand_market(rows, {1: "SHORT"}, flat_rate=Decimal("0.0001"))
    trade = only(both(market, verdicts, EXACT)[engine])
    assert trade["side"] == "SHORT" and trade["exit_reason"] == "end"
    assert trade["exit_time"] == START + 12 * MIN15 and trade["exit_price"] == 1000
    # a short receives: 0.5 ETH x 1000 x 0.0001
    assert trade["funding"] == pytest.approx(0.05, abs=1e-12)
    assert trade["fees"] == pytest.approx(-0.5, abs=1e-12)
    assert trade["realized"] == pytest.approx(-0.45, abs=1e-12)


@pytest.mark.parametrize("engine", ["fast", "replay"])
def test_spread_and_slippage_on_both_fills(engine):
    rows = [FLAT, FLAT, FLAT, (1000.0, 1005.0, 985.0, 1000.0), FLAT]
    market, verdicts = hand_market(rows, {1: "LONG"})
    costs = {**EXACT, "spread_bps": 2, "slippage_bps": 4}  # 1 + 4 = 5 bp a fill
    trade = only(both(market, verdicts, costs)[engine])
    assert trade["entry_price"] == pytest.approx(1000.5, abs=1e-12)  # bought 5 bp up
    assert trade["exit_price"] == pytest.approx(990 * 0.9995, abs=1e-12)  # sold 5 bp down
    assert trade["pnl"] == pytest.approx(0.5 * (989.505 - 1000.5), abs=1e-12)


@pytest.mark.parametrize("engine", ["fast", "replay"])
def test_an_isolated_long_liquidated_loses_its_margin(engine):
    # 100 USDT x100 at 1000 = 100 contracts (10 ETH); stop 10% away, never reached first;
    # liquidation where margin + PnL = 0.4% of the notional: (10000 - 100) / (10 x 0.996)
    # = 993.9759..., rounded down to the tick: 993.97
    params = {
        **EXACT,
        "POLICY_SL_PERCENT": 10.0,
        "POLICY_LEVERAGE": 100,
        "TRADING_MARGIN_MODE": "isolated",
    }
    rows = [FLAT, FLAT, FLAT, (1000.0, 1001.0, 985.0, 990.0), FLAT]
    market, verdicts = hand_market(rows, {1: "LONG"})
    trade = only(both(market, verdicts, params)[engine])
    assert trade["size"] == 100 and trade["exit_reason"] == "liquidation"
    assert trade["exit_price"] == 993.97
    assert trade["pnl"] == pytest.approx(-60.3, abs=1e-12)
    # the whole margin goes: the realised loss is the margin plus the entry fee (5 USDT)
    assert trade["realized"] == pytest.approx(-105.0, abs=1e-12)
    assert trade["penalty"] == pytest.approx(-(100 - 60.3 - 4.96985), abs=1e-12)


def test_a_signal_waits_while_a_position_is_held_and_expires_after_four_hours():
    # a second signal while the first trade is open is traded at the first close after the
    # exit; a signal older than 4 h when the symbol frees up is not
    rows = [FLAT, FLAT, FLAT, (1000.0, 1005.0, 985.0, 1000.0)] + [FLAT] * 20
    market, verdicts = hand_market(rows, {1: "LONG", 2: "SHORT"})
    fast = both(market, verdicts, EXACT)["fast"]
    first, second = fast.trades.iter_rows(named=True)
    assert first["side"] == "LONG" and second["side"] == "SHORT"
    assert second["entry_time"] == START + 4 * MIN15  # the close after the stop at row 3
    rows = [FLAT, FLAT] + [FLAT] * 20 + [(1000.0, 1005.0, 985.0, 1000.0)] + [FLAT] * 3
    market, verdicts = hand_market(rows, {1: "LONG", 2: "SHORT"})
    trades = both(market, verdicts, EXACT)["fast"].trades
    assert trades["side"].to_list() == ["LONG"]  # the SHORT expired while the LONG was held
