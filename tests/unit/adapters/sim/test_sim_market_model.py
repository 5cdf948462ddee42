"""The market model's rules (adapters/sim/model.py), each on a hand-computed case.

BTC-USDT-SWAP: one contract is 0.01 BTC, so 10 contracts move 0.1 USDT per 1 USDT of
price; fees are 2 bp maker, 5 bp taker of the notional.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st
from sim_helpers import BTC, EXACT, START, D, at, engine, flat

from qwentrade.adapters.sim import ReplayPath, SimEngine, SteppedClock
from qwentrade.adapters.sim.model import Costs, SizeCaps
from qwentrade.adapters.sim.prices import Series
from qwentrade.domain.errors import ExchangeRejected, InvalidInput
from qwentrade.domain.instruments import DEFAULT_INSTRUMENTS
from qwentrade.domain.market import to_ms
from qwentrade.domain.venue import (
    AlgoLeg,
    AlgoRequest,
    AlgoState,
    AttachedAlgo,
    OrderRequest,
    OrderState,
)

# walks 100000 -> 103000 (5 min) -> 97000 (10 min) -> 97500: touches 102500 then 98000
RED_BOTH = (100000, 103000, 97000, 97500)
# walks 100000 -> 97000 (5 min) -> 103000 (10 min) -> 102000: touches 98000 then 102500
GREEN_BOTH = (100000, 103000, 97000, 102000)


def long_entry(size: str = "10", **stops) -> OrderRequest:
    return OrderRequest(BTC, "buy", size, "e1", attached_algos=[AttachedAlgo(**stops)])


def short_entry(size: str = "10", **stops) -> OrderRequest:
    return OrderRequest(BTC, "sell", size, "e1", attached_algos=[AttachedAlgo(**stops)])


def closed(sim):
    [record] = sim.position_history()
    [algo] = sim.algo_history()
    return record, algo


# -- rule 2: a stop-loss still ahead in the candle goes before the take-profit -----------


def test_a_red_candle_touching_both_closes_a_long_at_its_stop_not_its_target():
    # the audit's case: long 0.1 BTC at 100000, stop 98000, target 102500; the red candle
    # reaches 102500 first, but it also reaches 98000: a loss of 200, not a gain of 250
    rows = [*flat(100000), RED_BOTH, *flat(97500, 2)]
    sim, _ = engine(rows)
    sim.place_order(long_entry(sl_trigger_price="98000.0", tp_trigger_price="102500.0"))
    sim.advance(at(60))
    record, algo = closed(sim)
    assert algo.triggered_leg is AlgoLeg.STOP_LOSS
    assert record.close_avg_price == D(98000) and record.pnl == D(-200)
    # 5 min up to 103000, then 5000 of 6000 down to 98000: 15 + 5 + 25/6 min
    assert algo.triggered_at == at(15 + 5 + 25 / 6)


def test_the_path_option_keeps_the_colour_order():
    rows = [*flat(100000), RED_BOTH, *flat(97500, 2)]
    sim, _ = engine(rows, intrabar="path")
    sim.place_order(long_entry(sl_trigger_price="98000.0", tp_trigger_price="102500.0"))
    sim.advance(at(60))
    record, algo = closed(sim)
    assert algo.triggered_leg is AlgoLeg.TAKE_PROFIT and record.pnl == D(250)


def test_a_green_candle_touching_both_closes_a_short_at_its_stop():
    rows = [*flat(100000), GREEN_BOTH, *flat(102000, 2)]
    sim, _ = engine(rows)
    sim.place_order(short_entry(sl_trigger_price="102000.0", tp_trigger_price="97500.0"))
    sim.advance(at(60))
    record, algo = closed(sim)
    assert algo.triggered_leg is AlgoLeg.STOP_LOSS
    assert record.close_avg_price == D(102000) and record.pnl == D(-200)


def test_a_target_alone_in_its_candle_still_fires():
    # the red candle reaches 102500 and falls to 99000 only: the stop (98000) is not ahead
    rows = [*flat(100000), (100000, 103000, 99000, 99500), *flat(99500, 2)]
    sim, _ = engine(rows)
    sim.place_order(long_entry(sl_trigger_price="98000.0", tp_trigger_price="102500.0"))
    sim.advance(at(60))
    record, algo = closed(sim)
    assert algo.triggered_leg is AlgoLeg.TAKE_PROFIT
    assert record.pnl == D(250) and algo.triggered_at == at(15 + 2500 / 3000 * 5)


def test_a_gap_over_the_target_waits_when_the_candle_then_reaches_the_stop():
    # the candle opens at 103000 (over the target) and then falls through the stop
    rows = [*flat(100000), (103000, 103000, 97000, 97500), *flat(97500, 2)]
    sim, _ = engine(rows)
    sim.place_order(long_entry(sl_trigger_price="98000.0", tp_trigger_price="102500.0"))
    sim.advance(at(60))
    record, algo = closed(sim)
    assert algo.triggered_leg is AlgoLeg.STOP_LOSS and record.pnl == D(-200)
    # with the path rule the gap fires the target at the open, 103000
    sim, _ = engine(rows, intrabar="path")
    sim.place_order(long_entry(sl_trigger_price="98000.0", tp_trigger_price="102500.0"))
    sim.advance(at(60))
    record, algo = closed(sim)
    assert algo.triggered_leg is AlgoLeg.TAKE_PROFIT and record.close_avg_price == D(103000)


def test_separate_stop_and_target_algos_follow_the_same_rule():
    rows = [*flat(100000), RED_BOTH, *flat(97500, 2)]
    sim, _ = engine(rows)
    # the target is placed first (older), so the path rule alone would fire it
    sim.place_order(OrderRequest(BTC, "buy", "10", "e1"))
    for stop in ({"tp_trigger_price": "102500.0"}, {"sl_trigger_price": "98000.0"}):
        sim.place_algo(
            AlgoRequest(BTC, "sell", "conditional", close_fraction="1", reduce_only=True, **stop)
        )
    sim.advance(at(60))
    [record] = sim.position_history()
    assert record.pnl == D(-200)
    states = {a.triggered_leg: a.state for a in sim.algo_history()}
    assert states == {AlgoLeg.STOP_LOSS: AlgoState.EFFECTIVE, None: AlgoState.CANCELED}


def test_a_bad_intrabar_choice_is_refused():
    with pytest.raises(InvalidInput) as caught:
        engine(flat(100000), intrabar="colour")
    assert caught.value.field == "intrabar" and "stop_first, path" in str(caught.value)


# -- rule 4: resting limits fill when traded through, at their own price ----------------


def test_a_resting_buy_limit_touched_but_not_traded_through_stays_open():
    rows = [*flat(100000), (100000, 100500, 99000, 100000), *flat(100000, 2)]
    sim, _ = engine(rows)
    order = sim.place_order(
        OrderRequest(BTC, "buy", "10", "l1", order_type="limit", price=D("99000.0"))
    )
    sim.advance(at(60))
    assert sim.get_order(BTC, order_id=order.order_id).state is OrderState.LIVE


def test_a_resting_buy_limit_traded_through_fills_at_its_price_as_maker():
    rows = [*flat(100000), (100000, 100500, 98990, 100000), *flat(100000, 2)]
    sim, _ = engine(rows)
    order = sim.place_order(
        OrderRequest(BTC, "buy", "10", "l1", order_type="limit", price=D("99000.0"))
    )
    sim.advance(at(60))
    filled = sim.get_order(BTC, order_id=order.order_id)
    assert filled.state is OrderState.FILLED and filled.avg_price == D(99000)
    # maker: 0.1 BTC x 99000 x 0.0002
    assert filled.fee == D("-1.98") and filled.last_fill.liquidity == "maker"


def test_a_gap_through_a_resting_limit_fills_at_the_limit_not_the_better_open():
    rows = [*flat(100000), (98000, 98500, 97500, 98000), *flat(98000, 2)]
    sim, _ = engine(rows)
    buy = sim.place_order(
        OrderRequest(BTC, "buy", "10", "l1", order_type="limit", price=D("99000.0"))
    )
    sim.advance(at(60))
    filled = sim.get_order(BTC, order_id=buy.order_id)
    assert filled.avg_price == D(99000) and filled.updated_at == at(15)
    [position] = sim.positions()
    assert position.avg_price == D(99000)


def test_a_resting_sell_limit_needs_a_trade_above_it():
    touch = [*flat(100000), (100000, 101000, 99500, 100000), *flat(100000, 2)]
    sim, _ = engine(touch)
    sell = OrderRequest(BTC, "sell", "10", "s1", order_type="limit", price=D("101000.0"))
    order = sim.place_order(sell)
    sim.advance(at(60))
    assert sim.get_order(BTC, order_id=order.order_id).state is OrderState.LIVE
    through = [*flat(100000), (100000, 101000.1, 99500, 100000), *flat(100000, 2)]
    sim, _ = engine(through)
    order = sim.place_order(sell)
    sim.advance(at(60))
    filled = sim.get_order(BTC, order_id=order.order_id)
    assert filled.state is OrderState.FILLED and filled.avg_price == D(101000)


def test_exact_costs_fill_a_market_order_at_the_last_price():
    sim, _ = engine(flat(100000, 2), costs=EXACT)
    order = sim.place_order(OrderRequest(BTC, "buy", "10", "m1"))
    assert order.avg_price == D(100000)


# -- rule 5: reduce-only orders die with their position ----------------------------------


def test_a_reduce_only_order_is_canceled_when_its_position_closes():
    # long 10 at 100000 with a stop at 98000 and a reduce-only sell resting at 105000; the
    # stop closes the long; a new long opens; the price then trades through 105000
    rows = [
        *flat(100000),
        (100000, 100000, 97500, 98000),
        *flat(98000),
        (98000, 106000, 98000, 106000),
        *flat(106000),
    ]
    sim, _ = engine(rows)
    sim.place_order(long_entry(sl_trigger_price="98500.0"))
    target = sim.place_order(
        OrderRequest(
            BTC, "sell", "10", "t1", order_type="limit", price=D("105000.0"), reduce_only=True
        )
    )
    sim.advance(at(30))
    assert sim.positions() == []
    canceled = sim.get_order(BTC, order_id=target.order_id)
    assert canceled.state is OrderState.CANCELED and canceled.filled_size == 0
    # canceled with the stop's fill: 15 + 5 min to the top, then 1500 of 2500 of 5 min
    assert canceled.updated_at == at(15 + 5 + 3)
    sim.place_order(OrderRequest(BTC, "buy", "10", "e2"))
    sim.advance(at(75))
    [position] = sim.positions()  # the later long is untouched by the old target
    assert position.size == D(10) and position.avg_price == D(98000)


def test_a_closing_order_in_long_short_mode_is_canceled_with_its_position():
    sim, _ = engine(flat(100000, 4), position_mode="long_short_mode")
    sim.place_order(OrderRequest(BTC, "buy", "10", "e1", pos_side="long"))
    target = sim.place_order(
        OrderRequest(
            BTC, "sell", "10", "t1", pos_side="long", order_type="limit", price=D("105000.0")
        )
    )
    sim.place_order(OrderRequest(BTC, "sell", "10", "c1", pos_side="long"))  # a market close
    assert sim.get_order(BTC, order_id=target.order_id).state is OrderState.CANCELED
    assert sim.open_orders() == []


# -- rule 3: taker fills pay half the spread plus slippage -------------------------------

COSTS = Costs(spread_bps="1", slippage_bps="2")  # 0.5 + 2 = 2.5 bp a taker fill


def test_market_orders_pay_half_the_spread_and_the_slippage():
    sim, _ = engine(flat(100000, 2), costs=COSTS)
    buy = sim.place_order(OrderRequest(BTC, "buy", "10", "m1"))
    assert buy.avg_price == D("100025")  # 100000 x 1.00025
    assert buy.fee == D("-5.00125")  # 0.1 BTC x 100025 x 0.0005 taker
    sell = sim.place_order(OrderRequest(BTC, "sell", "10", "m2"))
    assert sell.avg_price == D("99975")
    [record] = sim.position_history()
    assert record.pnl == D("-5")  # (99975 - 100025) x 0.1: the round trip's 5 bp


def test_a_triggered_stop_pays_the_cost_from_its_trigger():
    rows = [*flat(100000), (100000, 100000, 97500, 97600), *flat(97600)]
    sim, _ = engine(rows, costs=COSTS)
    sim.place_order(long_entry(sl_trigger_price="98000.0"))
    sim.advance(at(45))
    record, algo = closed(sim)
    assert algo.triggered_leg is AlgoLeg.STOP_LOSS
    assert record.close_avg_price == D("97975.5")  # 98000 x 0.99975
    assert record.pnl == D("-204.95")  # (97975.5 - 100025) x 0.1


def test_a_gap_through_a_stop_pays_the_cost_from_the_open():
    rows = [*flat(100000), (97000, 97500, 96500, 97000), *flat(97000)]
    sim, _ = engine(rows, costs=COSTS)
    sim.place_order(long_entry(sl_trigger_price="98000.0"))
    sim.advance(at(45))
    record, _ = closed(sim)
    assert record.close_avg_price == D("96975.75")  # 97000 x 0.99975


def test_a_marketable_limit_never_fills_beyond_its_price():
    sim, _ = engine(flat(100000, 2), costs=COSTS)
    near = sim.place_order(
        OrderRequest(BTC, "buy", "10", "l1", order_type="limit", price=D("100010.0"))
    )
    assert near.avg_price == D("100010.0") and near.last_fill.liquidity == "taker"
    far = sim.place_order(
        OrderRequest(BTC, "buy", "10", "l2", order_type="limit", price=D("101000.0"))
    )
    assert far.avg_price == D("100025")


def test_costs_are_read_at_each_fill():
    current = [COSTS]
    sim, _ = engine(flat(100000, 2), costs=lambda: current[0])
    assert sim.place_order(OrderRequest(BTC, "buy", "10", "m1")).avg_price == D("100025")
    current[0] = Costs(spread_bps=0, slippage_bps=10)
    assert sim.place_order(OrderRequest(BTC, "buy", "10", "m2")).avg_price == D("100100")


def test_costs_are_checked():
    with pytest.raises(InvalidInput) as caught:
        Costs(spread_bps=-1)
    assert caught.value.field == "spread_bps"


# -- rules 6 and 7: price band and maximum sizes -----------------------------------------


def test_priced_orders_outside_the_band_are_refused_with_51006():
    sim, _ = engine(flat(100000, 2), costs=COSTS)  # band 5%: buy <= 105000, sell >= 95000
    for side, price in (("buy", "105000.1"), ("sell", "94999.9")):
        request = OrderRequest(BTC, side, "1", "b1", order_type="limit", price=D(price))
        with pytest.raises(ExchangeRejected) as caught:
            sim.place_order(request)
        assert caught.value.code == "51006" and "105000.0" in str(caught.value)
    assert sim.open_orders() == [] and sim.order_history() == []
    # at the edge, and far on the passive side, are accepted
    edge = sim.place_order(
        OrderRequest(BTC, "buy", "1", "b2", order_type="limit", price=D("105000.0"))
    )
    assert edge.state is OrderState.FILLED and edge.avg_price == D("100025")
    low = sim.place_order(OrderRequest(BTC, "buy", "1", "b3", order_type="limit", price=D(50000)))
    assert low.state is OrderState.LIVE


def test_a_triggered_leg_priced_outside_the_band_fails_with_51006():
    rows = [*flat(100000), (100000, 100000, 97500, 97600), *flat(97600)]
    sim, _ = engine(rows)
    # the stop triggers at 98000; its sell price 93000 is below 98000 x 0.95 = 93100
    sim.place_order(long_entry(sl_trigger_price="98000.0", sl_order_price="93000.0"))
    sim.advance(at(45))
    [algo] = sim.algo_history()
    assert algo.state is AlgoState.ORDER_FAILED and algo.fail_code == "51006"
    assert sim.positions()[0].size == D(10)


def test_orders_above_the_maximum_sizes_are_refused():
    caps = {BTC: SizeCaps(market=D(5), limit=D(8))}
    sim, _ = engine(flat(100000, 2), size_caps=caps)
    with pytest.raises(ExchangeRejected) as market:
        sim.place_order(OrderRequest(BTC, "buy", "5.01", "m1"))
    assert market.value.code == "51202"
    with pytest.raises(ExchangeRejected) as limit:
        sim.place_order(OrderRequest(BTC, "buy", "8.01", "l1", order_type="limit", price=D(90000)))
    assert limit.value.code == "51203"
    assert sim.place_order(OrderRequest(BTC, "buy", "5", "m2")).state is OrderState.FILLED
    assert sim.order_history() and len(sim.order_history()) == 1


def test_default_maximum_sizes_are_okx_btc_swap_values():
    sim, _ = engine(flat(100000, 2), balance=10**9)
    with pytest.raises(ExchangeRejected) as caught:
        sim.place_order(OrderRequest(BTC, "buy", "12000.01", "m1"))
    assert caught.value.code == "51202"
    with pytest.raises(InvalidInput) as unknown:
        engine(flat(100000), size_caps={"DOGE-USDT-SWAP": SizeCaps()})
    assert unknown.value.field == "size_caps"


# -- funding: every settlement, whatever the candle -----------------------------------


def daily_engine(days: int, rates: dict) -> SimEngine:
    ts = [to_ms(START + timedelta(days=d)) for d in range(days)]
    prices = [100000.0] * days
    series = {BTC: Series(ts, prices, prices, prices, prices, [100.0] * days)}
    path = ReplayPath(series, {BTC: {to_ms(t): D(r) for t, r in rates.items()}})
    return SimEngine(
        [DEFAULT_INSTRUMENTS[BTC]], clock=SteppedClock(START), price_path=path, costs=EXACT
    )


def test_a_path_of_daily_candles_settles_funding_three_times_a_day():
    hours = [START + timedelta(hours=h) for h in (8, 16, 24)]
    sim = daily_engine(3, dict(zip(hours, ("0.0001", "0.0002", "0.0003"), strict=True)))
    sim.place_order(OrderRequest(BTC, "buy", "2", "f1"))  # 0.02 BTC: 2000 USDT
    sim.advance(START + timedelta(hours=12))
    assert sim.positions()[0].funding_fee == D("-0.2")  # 2000 x 0.0001 at 08:00
    sim.advance(START + timedelta(days=1))
    # 2000 x (0.0001 + 0.0002 + 0.0003): before, a daily path charged only the 00:00 one
    assert sim.positions()[0].funding_fee == D("-1.2")
    assert sim.balance().cash_balance == D(10000) - D("1.0") - D("1.2")  # fee 2000 x 5 bp


# -- properties over random candles ------------------------------------------------------


@st.composite
def candles(draw):
    """A few 15m candles around 100000 (prices on the 0.1 tick)."""
    rows, price = [], 100000.0
    for _ in range(draw(st.integers(1, 6))):
        close = round(price + draw(st.integers(-3000, 3000)) / 1, 1)
        high = max(price, close) + draw(st.integers(500, 4000))
        low = min(price, close) - draw(st.integers(500, 4000))
        rows.append((price, high, low, close))
        price = close if draw(st.booleans()) else round(close + draw(st.integers(-800, 800)), 1)
    return rows


@settings(max_examples=60, deadline=None)
@given(rows=candles(), side=st.sampled_from(["buy", "sell"]))
def test_stop_first_never_ends_better_than_the_path_order(rows, side):
    outcomes = {}
    for intrabar in ("path", "stop_first"):
        sim, _ = engine([*flat(100000), *rows, *flat(rows[-1][3], 2)], intrabar=intrabar)
        sign = 1 if side == "buy" else -1
        stop, target = D(100000 - sign * 1000), D(100000 + sign * 1000)
        entry = long_entry if side == "buy" else short_entry
        sim.place_order(entry(sl_trigger_price=stop, tp_trigger_price=target))
        sim.advance(at(15 * (len(rows) + 3)))
        history = sim.position_history()
        outcomes[intrabar] = history[0].pnl if history else None
    if outcomes["path"] is None:
        assert outcomes["stop_first"] is None  # neither level ever reached
    else:
        assert outcomes["stop_first"] is not None
        assert outcomes["stop_first"] <= outcomes["path"]
        event("stop-first worse" if outcomes["stop_first"] < outcomes["path"] else "same")


@settings(max_examples=60, deadline=None)
@given(rows=candles(), away=st.integers(1, 3000))
def test_a_resting_buy_limit_fills_only_at_its_price_after_a_lower_price(rows, away):
    limit = D(100000 - away)
    sim, _ = engine([*flat(100000), *rows, *flat(rows[-1][3], 2)])
    order = sim.place_order(OrderRequest(BTC, "buy", "1", "l1", order_type="limit", price=limit))
    sim.advance(at(15 * (len(rows) + 3)))
    found = sim.get_order(BTC, order_id=order.order_id)
    lowest = min(min(r[2], r[0]) for r in rows)
    if lowest < limit:
        assert found.state is OrderState.FILLED and found.avg_price == limit
    else:
        assert found.state is OrderState.LIVE
