"""Positions on the simulated exchange: liquidation, funding, leverage, position mode."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sim_helpers import BTC, ETH, START, D, at, engine, flat

from qwentrade.domain.errors import ExchangeRejected
from qwentrade.domain.market import TimeRange
from qwentrade.domain.venue import AttachedAlgo, OrderRequest, PositionMode, TdMode


def buy(size: str, cid: str, **kw) -> OrderRequest:
    return OrderRequest(BTC, "buy", size, cid, **kw)


def test_isolated_liquidation_loses_exactly_the_margin_at_the_documented_price():
    rows = [*flat(100000), (100000, 100000, 90000, 90000), *flat(90000)]
    sim, _ = engine(rows)
    sim.place_order(buy("1", "iso1", td_mode=TdMode.ISOLATED))  # margin 100, fee 0.5
    [position] = sim.positions()
    # (avg*q - margin) / (q*(1 - 0.004)) = (1000 - 100) / 0.00996 = 90361.44..., down to a tick
    expected = D("90361.4")
    assert position.liquidation_price == expected
    sim.advance(at(30))
    assert sim.positions() == []
    [record] = sim.position_history()
    assert record.close_type == 3
    assert record.close_avg_price == expected
    assert sim.balance().cash_balance == D(10000) - D("0.5") - D(100)
    assert record.realized_pnl == D(-100) - D("0.5")


def test_cross_liquidation_takes_the_account_to_zero_and_cancels_its_stops():
    rows = [*flat(100000), (100000, 100000, 98000, 98000), *flat(98000)]
    sim, _ = engine(rows, balance=150)
    sim.set_leverage(BTC, 100, TdMode.CROSS)
    # 0.1 BTC: margin 100, fee 5 -> cash 145; the stop sits below the liquidation
    sim.place_order(buy("10", "x1", attached_algos=[AttachedAlgo(sl_trigger_price="97000.0")]))
    assert len(sim.open_algos()) == 1
    [position] = sim.positions()
    # (cost - equity) / (net - mmr * gross) = (10000 - 145) / (0.1 - 0.0004) = 98945.78...
    assert position.liquidation_price == D("98945.7")
    sim.advance(at(30))
    assert sim.positions() == []
    assert sim.position_history()[0].close_type == 3
    assert sim.balance().cash_balance == 0
    assert sim.open_algos() == []


def test_funding_is_settled_at_the_eight_hour_mark_on_open_positions():
    start = START.replace(hour=7, minute=45)
    sim, _ = engine(flat(100000, 3), start=start, funding={START.replace(hour=8): D("0.0001")})
    sim.place_order(buy("2", "f1"))  # fee 1.0
    sim.advance(START.replace(hour=8))
    [position] = sim.positions()
    # a long pays 0.02 BTC x 100000 x 0.0001 = 0.2
    assert position.funding_fee == D("-0.2")
    assert position.realised_pnl == D("-1.2")
    assert sim.balance().cash_balance == D(10000) - D("1.0") - D("0.2")
    sim.advance(START.replace(hour=8, minute=30))  # no second settlement before 16:00
    assert sim.positions()[0].funding_fee == D("-0.2")
    assert [f.time for f in sim.funding_history(BTC, _span(start))] == [START.replace(hour=8)]


def _span(start):
    return TimeRange(start, start + timedelta(days=1))


def test_shorts_receive_positive_funding():
    start = START.replace(hour=7, minute=45)
    sim, _ = engine(flat(50000, 3), start=start, funding={START.replace(hour=8): D("0.0002")})
    sim.place_order(OrderRequest(BTC, "sell", "1", "s1"))
    sim.advance(START.replace(hour=8, minute=15))
    assert sim.positions()[0].funding_fee == D("0.1")  # 0.01 x 50000 x 0.0002


def test_position_mode_cannot_change_while_anything_is_open():
    sim, _ = engine(flat(100000, 2))
    sim.place_order(buy("1", "m1"))
    with pytest.raises(ExchangeRejected) as caught:
        sim.set_position_mode(PositionMode.LONG_SHORT_MODE)
    assert caught.value.code == "59000"
    sim.place_order(OrderRequest(BTC, "sell", "1", "m2", reduce_only=True))
    sim.set_position_mode(PositionMode.LONG_SHORT_MODE)
    assert sim.position_mode() is PositionMode.LONG_SHORT_MODE


def test_raising_isolated_leverage_releases_margin_and_positions_follow():
    sim, _ = engine(flat(100000, 2))
    sim.place_order(buy("1", "l1", td_mode="isolated"))
    assert sim.positions()[0].margin == D(100)
    sim.set_leverage(BTC, 20, TdMode.ISOLATED)
    [position] = sim.positions()
    assert position.leverage == 20 and position.margin == D(50)


def test_two_symbols_share_the_cross_account():
    sim, _ = engine(flat(100000, 2), more={ETH: [(3000.0, 3000.0, 3000.0, 3000.0)] * 2})
    sim.place_order(buy("1", "b1"))
    sim.place_order(OrderRequest(ETH, "sell", "10", "e1"))  # 1 ETH notional 3000
    balance = sim.balance()
    assert balance.frozen == D(100) + D(300)
    assert balance.cash_balance == D(10000) - D("0.5") - D("1.5")
    assert {p.symbol for p in sim.positions()} == {BTC, ETH}
