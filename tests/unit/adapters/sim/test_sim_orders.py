"""Orders on the simulated exchange: fills, fees, average price, margin, client ids."""

from __future__ import annotations

import threading

import pytest
from sim_helpers import BTC, D, at, engine, flat

from qwentrade.domain.errors import ExchangeRejected, InsufficientFunds, OrderNotFound
from qwentrade.domain.venue import (
    OrderRequest,
    OrderState,
    OrderType,
    PositionMode,
    PosSide,
    Side,
    TdMode,
)


def market(side: str, size: str, cid: str, **kw) -> OrderRequest:
    return OrderRequest(BTC, side, size, cid, **kw)


def test_market_buy_fills_at_last_price_with_taker_fee_and_cross_margin():
    sim, _ = engine(flat(100000, 4))
    order = sim.place_order(market("buy", "2", "buy1"))
    # 2 contracts x 0.01 BTC x 100000 = 2000 USDT notional; taker 0.05% = 1.0
    assert order.state is OrderState.FILLED
    assert order.avg_price == D(100000)
    assert order.fee == D("-1.0")
    [position] = sim.positions()
    assert position.size == D(2) and position.avg_price == D(100000)
    assert position.margin == D(200)  # 2000 / 10x default leverage
    assert position.realised_pnl == D("-1.0")
    balance = sim.balance()
    assert balance.cash_balance == D("9999.0")
    assert balance.frozen == D(200)
    assert balance.available == D("9799.0")


def test_average_price_realised_pnl_and_fees_through_a_round_trip():
    rows = flat(100000, 1) + flat(101000, 1) + flat(102000, 1) + flat(99000, 1)
    sim, _ = engine(rows)
    sim.place_order(market("buy", "2", "a1"))  # fee 1.0
    sim.advance(at(15))
    assert sim.positions()[0].unrealised_pnl == D(20)  # 0.02 BTC x +1000
    sold = sim.place_order(market("sell", "1", "a2"))
    assert sold.pnl == D(10)  # 0.01 x (101000 - 100000)
    assert sold.fee == D("-0.505")
    sim.advance(at(30))
    sim.place_order(market("buy", "1", "a3"))  # fee 0.51
    [position] = sim.positions()
    assert position.size == D(2)
    assert position.avg_price == D(101000)  # (1 x 100000 + 1 x 102000) / 2
    sim.advance(at(45))
    closed = sim.place_order(market("sell", "2", "a4"))  # fee 0.99
    assert closed.pnl == D(-40)  # 0.02 x (99000 - 101000)
    assert sim.positions() == []
    assert sim.balance().cash_balance == D(10000) - D("1.0") + D(10) - D("0.505") - D("0.51") - D(
        40
    ) - D("0.99")
    [last, first] = sim.position_history()
    assert last.close_type == 2 and first.close_type == 1
    assert last.pnl == D(-30) and last.fee == D("-3.005")
    assert last.realized_pnl == D("-33.005")
    assert last.open_max_size == D(2) and last.close_total_size == D(3)
    assert last.close_avg_price == (D(101000) + 2 * D(99000)) / 3


def test_limit_order_rests_then_fills_as_maker_when_the_path_touches_it():
    rows = [(100000, 100000, 100000, 100000), (100000, 100500, 99000, 100200)]
    sim, _ = engine(rows)
    order = sim.place_order(
        market("buy", "1", "lim1", order_type=OrderType.LIMIT, price=D("99500.0"))
    )
    assert order.state is OrderState.LIVE
    assert sim.balance().frozen == D("99.5")  # 0.01 x 99500 / 10
    assert [o.order_id for o in sim.open_orders()] == [order.order_id]
    sim.advance(at(30))
    filled = sim.get_order(BTC, order_id=order.order_id)
    assert filled.state is OrderState.FILLED and filled.avg_price == D("99500.0")
    assert filled.fee == D("-0.199")  # maker 0.02% of 995
    # the green candle walks open -> low: 500 of the 1000 down-leg in the first 5 minutes
    assert filled.updated_at == at(15 + 2.5)
    assert sim.open_orders() == []


def test_marketable_limit_fills_at_once_at_the_last_price_as_taker():
    sim, _ = engine(flat(100000, 2))
    order = sim.place_order(market("buy", "1", "x1", order_type="limit", price=D("100500.0")))
    assert order.state is OrderState.FILLED
    assert order.avg_price == D(100000)
    assert order.fee == D("-0.5")


def test_post_only_that_would_trade_is_canceled_and_ioc_that_cannot_is_canceled():
    sim, _ = engine(flat(100000, 2))
    post = sim.place_order(market("buy", "1", "p1", order_type="post_only", price=D("100100.0")))
    assert post.state is OrderState.CANCELED and post.filled_size == 0
    ioc = sim.place_order(market("buy", "1", "i1", order_type="ioc", price=D("99000.0")))
    assert ioc.state is OrderState.CANCELED
    assert sim.positions() == []


def test_duplicate_client_order_id_is_rejected_while_live_and_reusable_after():
    sim, _ = engine(flat(100000, 2))
    first = sim.place_order(market("buy", "1", "dup1", order_type="limit", price=D("90000.0")))
    with pytest.raises(ExchangeRejected) as caught:
        sim.place_order(market("buy", "1", "dup1", order_type="limit", price=D("90000.0")))
    assert caught.value.code == "51016"
    assert len(sim.open_orders()) == 1
    sim.cancel_order(BTC, client_order_id="dup1")
    again = sim.place_order(market("buy", "1", "dup1"))
    assert again.order_id != first.order_id
    # a reused client id finds the latest order
    assert sim.get_order(BTC, client_order_id="dup1").order_id == again.order_id


def test_cancel_and_lookup_errors_carry_okx_codes():
    sim, _ = engine(flat(100000, 2))
    with pytest.raises(OrderNotFound) as missing:
        sim.get_order(BTC, client_order_id="nosuch")
    assert missing.value.code == "51603"
    filled = sim.place_order(market("buy", "1", "f1"))
    with pytest.raises(OrderNotFound) as done:
        sim.cancel_order(BTC, order_id=filled.order_id)
    assert done.value.code == "51400"
    with pytest.raises(ExchangeRejected) as unknown:
        sim.place_order(OrderRequest("DOGE-USDT-SWAP", "buy", "1", "d1"))
    assert unknown.value.code == "51001"


def test_sizes_off_the_lot_or_below_minimum_are_rejected():
    sim, _ = engine(flat(100000, 2))
    with pytest.raises(ExchangeRejected) as lot:
        sim.place_order(market("buy", "1.005", "l1"))
    assert lot.value.code == "51121"
    with pytest.raises(ExchangeRejected) as tick:
        sim.place_order(market("buy", "1", "t1", order_type="limit", price=D("99000.05")))
    assert tick.value.code == "51000"


def test_insufficient_margin_is_rejected_with_51008_and_changes_nothing():
    sim, _ = engine(flat(100000, 2), balance=100)
    # 1 contract = 1000 notional: 100 margin at 10x + 0.5 fee > 100
    with pytest.raises(InsufficientFunds) as caught:
        sim.place_order(market("buy", "1", "big1"))
    assert caught.value.code == "51008"
    assert sim.positions() == [] and sim.balance().cash_balance == D(100)
    with pytest.raises(ExchangeRejected):  # not even an order record is left behind
        sim.place_order(market("buy", "1", "big1", reduce_only=True))
    assert sim.order_history() == []


def test_reduce_only_never_flips_or_increases():
    sim, _ = engine(flat(100000, 2))
    with pytest.raises(ExchangeRejected) as nothing:
        sim.place_order(market("sell", "1", "r0", reduce_only=True))
    assert nothing.value.code == "51169"
    sim.place_order(market("buy", "1", "r1"))
    with pytest.raises(ExchangeRejected):  # same direction: would increase
        sim.place_order(market("buy", "1", "r2", reduce_only=True))
    clipped = sim.place_order(market("sell", "3", "r3", reduce_only=True))
    assert clipped.filled_size == D(1)
    assert clipped.state is OrderState.CANCELED  # the unfillable rest is canceled
    assert sim.positions() == []


def test_net_mode_opposite_order_closes_then_flips_with_a_new_position():
    sim, _ = engine(flat(100000, 2))
    sim.place_order(market("buy", "1", "n1"))
    first_id = sim.positions()[0].pos_id
    sim.place_order(market("sell", "3", "n2"))
    [position] = sim.positions()
    assert position.size == D(-2) and position.pos_id != first_id
    assert position.direction is PosSide.SHORT
    assert sim.position_history()[0].pos_id == first_id


def test_long_short_mode_needs_pos_side_and_closes_with_the_opposite_side():
    sim, _ = engine(flat(100000, 2), position_mode=PositionMode.LONG_SHORT_MODE)
    with pytest.raises(ExchangeRejected) as caught:
        sim.place_order(market("buy", "1", "h0"))
    assert caught.value.code == "51000"
    sim.place_order(market("buy", "2", "h1", pos_side="long"))
    sim.place_order(market("sell", "1", "h2", pos_side="short"))
    sizes = {p.pos_side: p.size for p in sim.positions()}
    assert sizes == {PosSide.LONG: D(2), PosSide.SHORT: D(1)}
    sim.place_order(market("sell", "5", "h3", pos_side="long"))  # closes the long only
    assert {p.pos_side for p in sim.positions()} == {PosSide.SHORT}


def test_isolated_margin_is_held_from_the_entry_and_leverage_is_per_symbol_and_mode():
    sim, _ = engine(flat(100000, 1) + flat(95000, 1))
    sim.set_leverage(BTC, 5, TdMode.ISOLATED)
    assert sim.leverage(BTC, TdMode.ISOLATED) == 5 and sim.leverage(BTC, TdMode.CROSS) == 10
    sim.place_order(market("buy", "1", "iso1", td_mode="isolated"))
    sim.advance(at(15))
    [position] = sim.positions()
    assert position.margin == D(200)  # 1000 / 5, not re-marked
    assert position.unrealised_pnl == D(-50)
    with pytest.raises(ExchangeRejected) as too_high:
        sim.set_leverage(BTC, 101, TdMode.CROSS)
    assert too_high.value.code == "59102"


def test_order_history_is_newest_first_and_holds_only_completed_orders():
    sim, _ = engine(flat(100000, 2))
    a = sim.place_order(market("buy", "1", "h1"))
    live = sim.place_order(market("buy", "1", "h2", order_type="limit", price=D("90000.0")))
    c = sim.place_order(market("sell", "1", "h3"))
    records = sim.order_history()
    assert [r.order_id for r in records] == [c.order_id, a.order_id]
    assert live.order_id not in {r.order_id for r in records}
    assert records[0].side == Side.SELL.value and records[0].status == "filled"
    assert sim.order_history(limit=1)[0].order_id == c.order_id


def test_concurrent_callers_are_serialised_by_the_engine_lock():
    sim, _ = engine(flat(100000, 2), balance=100000)
    errors = []

    def trade(worker: int) -> None:
        try:
            for i in range(24):
                side = "buy" if i % 2 == 0 else "sell"
                sim.place_order(market(side, "1", f"w{worker}n{i}"))
                sim.balance()
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=trade, args=(w,)) for w in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert errors == []
    records = sim.order_history(limit=100)
    assert len(records) == 96 and len({r.order_id for r in records}) == 96
    assert sim.positions() == []  # every buy was matched by a sell
    fees = sum((r.fee for r in records), D(0))
    assert sim.balance().cash_balance == D(100000) + fees
