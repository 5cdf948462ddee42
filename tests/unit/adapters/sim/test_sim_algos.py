"""Stop-loss / take-profit algo orders: when they fire, what they do, and what they refuse."""

from __future__ import annotations

import pytest
from sim_helpers import BTC, EXACT, D, at, engine, flat

from qwentrade.domain.errors import ExchangeRejected, OrderNotFound
from qwentrade.domain.venue import (
    AlgoLeg,
    AlgoRequest,
    AlgoState,
    AlgoType,
    AttachedAlgo,
    OrderRequest,
    OrderState,
    PositionMode,
    PosSide,
)

GREEN = (100000, 102000, 99000, 101000)  # walks 100000 -> 99000 -> 102000 -> 101000
RED = (100000, 102000, 99000, 99500)  # walks 100000 -> 102000 -> 99000 -> 99500


def entry(side: str = "buy", size: str = "1", cid: str = "e1", **stops) -> OrderRequest:
    attached = [AttachedAlgo(**stops)] if stops else []
    return OrderRequest(BTC, side, size, cid, attached_algos=attached)


@pytest.mark.parametrize(
    ("candle", "intrabar", "leg", "price", "minute"),
    [
        # green: the low comes first, so the long's stop fires 2.5 min in (500 of 1000)
        (GREEN, "path", AlgoLeg.STOP_LOSS, D("99500.0"), 15 + 2.5),
        (GREEN, "stop_first", AlgoLeg.STOP_LOSS, D("99500.0"), 15 + 2.5),
        # red: the high comes first, so with the path rule the target fires at 3.75 min
        # (1500 of 2000)...
        (RED, "path", AlgoLeg.TAKE_PROFIT, D("101500.0"), 15 + 3.75),
        # ...but the stop is still ahead in the candle, so by default the target waits and
        # the stop fires on the way down: 5 min to the high, then 2500 of 3000 of 5 min
        (RED, "stop_first", AlgoLeg.STOP_LOSS, D("99500.0"), 15 + 5 + 25 / 6),
    ],
)
def test_oco_leg_that_fires_when_a_candle_touches_both(candle, intrabar, leg, price, minute):
    sim, _ = engine([*flat(100000), candle, *flat(100000, 2)], intrabar=intrabar, costs=EXACT)
    sim.place_order(entry(sl_trigger_price="99500.0", tp_trigger_price="101500.0"))
    [algo] = sim.open_algos()
    assert algo.algo_type is AlgoType.OCO
    sim.advance(at(60))
    fired = sim.get_algo(BTC, algo_id=algo.algo_id)
    assert fired.state is AlgoState.EFFECTIVE and fired.triggered_leg is leg
    assert fired.triggered_at == at(minute)
    close = sim.get_order(BTC, order_id=fired.order_id)
    assert close.avg_price == price and close.reduce_only and close.algo_id == algo.algo_id
    assert sim.positions() == [] and sim.open_algos() == []  # the other leg cannot fire


def test_a_gap_through_the_stop_fills_at_the_gap_price_not_the_trigger():
    rows = [*flat(100000), (98000, 98000, 98000, 98000)]
    sim, _ = engine(rows)
    sim.place_order(entry(sl_trigger_price="99000.0"))
    sim.advance(at(15))
    [record] = sim.position_history()
    assert record.close_avg_price == D(98000)
    assert record.pnl == D(-20)


def test_attached_algos_become_live_only_when_the_entry_fills():
    rows = [*flat(100000), (100000, 100000, 98000, 98500), *flat(98500, 2)]
    sim, _ = engine(rows)
    order = sim.place_order(
        OrderRequest(
            BTC,
            "buy",
            "1",
            "lim1",
            order_type="limit",
            price=D("99000.0"),
            attached_algos=[AttachedAlgo(sl_trigger_price="97000.0", tp_trigger_price="103000.0")],
        )
    )
    assert order.state is OrderState.LIVE and order.attached_algo_ids == ()
    assert sim.open_algos() == []
    sim.advance(at(30))
    filled = sim.get_order(BTC, order_id=order.order_id)
    assert filled.state is OrderState.FILLED
    [algo] = sim.open_algos()
    assert filled.attached_algo_ids == (algo.algo_id,)
    assert algo.attached_to == order.order_id and algo.size == D(1)
    assert algo.side.value == "sell" and algo.reduce_only


def test_attached_algos_of_a_canceled_entry_never_appear():
    sim, _ = engine(flat(100000, 2))
    order = sim.place_order(
        OrderRequest(
            BTC,
            "buy",
            "1",
            "c1",
            order_type="limit",
            price=D("90000.0"),
            attached_algos=[AttachedAlgo(sl_trigger_price="85000.0")],
        )
    )
    sim.cancel_order(BTC, order_id=order.order_id)
    sim.advance(at(30))
    assert sim.open_algos() == []


def test_attached_stop_on_the_wrong_side_is_rejected_with_okx_codes():
    sim, _ = engine(flat(100000, 2))
    with pytest.raises(ExchangeRejected) as long_stop:
        sim.place_order(entry(sl_trigger_price="100500.0"))
    assert long_stop.value.code == "51280"
    with pytest.raises(ExchangeRejected) as short_target:
        sim.place_order(entry(side="sell", tp_trigger_price="100500.0"))
    assert short_target.value.code == "51277"
    assert sim.positions() == [] and sim.order_history() == []


def test_partial_take_profit_plan_closes_in_steps_and_the_stop_goes_with_the_position():
    rows = [*flat(100000), (100000, 101200, 100000, 101200), (101200, 102200, 101200, 102200)]
    rows += flat(102200, 2)
    sim, _ = engine(rows)
    sim.place_order(
        OrderRequest(
            BTC,
            "buy",
            "2",
            "plan1",
            attached_algos=[
                AttachedAlgo(tp_trigger_price="101000.0", size="1"),
                AttachedAlgo(tp_trigger_price="102000.0", size="1"),
                AttachedAlgo(sl_trigger_price="99000.0"),
            ],
        )
    )
    assert len(sim.open_algos()) == 3
    sim.advance(at(30))
    assert sim.positions()[0].size == D(1)
    assert len(sim.open_algos()) == 2
    sim.advance(at(60))
    assert sim.positions() == []
    assert sim.open_algos() == []  # the stop was canceled with its position
    states = sorted(
        sim.get_algo(BTC, algo_id=a).state.value
        for a in ("2000000000001", "2000000000002", "2000000000003")
    )
    assert states == ["canceled", "effective", "effective"]
    [full, partial] = sim.position_history()
    assert (partial.close_type, full.close_type) == (1, 2)
    assert full.pnl == D(10) + D(20)


def test_standalone_close_fraction_stop_closes_the_whole_position_held_at_trigger():
    rows = [*flat(100000, 2), (100000, 100000, 97000, 97000), *flat(97000)]
    sim, _ = engine(rows)
    sim.place_order(entry(size="1", cid="s1"))
    algo = sim.place_algo(
        AlgoRequest(
            BTC,
            "sell",
            "conditional",
            close_fraction="1",
            sl_trigger_price="98000.0",
            algo_client_order_id="stop1",
        )
    )
    sim.advance(at(15))
    sim.place_order(entry(size="2", cid="s2"))  # the position grows after the stop
    sim.advance(at(45))
    fired = sim.get_algo(BTC, algo_client_order_id="stop1")
    assert fired.algo_id == algo.algo_id and fired.state is AlgoState.EFFECTIVE
    assert sim.get_order(BTC, order_id=fired.order_id).filled_size == D(3)
    assert sim.positions() == []


def test_standalone_algo_rules():
    sim, _ = engine(flat(100000, 2))
    request = AlgoRequest(
        BTC, "sell", "conditional", size="1", sl_trigger_price="99000.0", algo_client_order_id="a1"
    )
    with pytest.raises(ExchangeRejected) as no_position:
        sim.place_algo(request)
    assert no_position.value.code == "51169"
    sim.place_order(entry())
    with pytest.raises(ExchangeRejected) as wrong_side:
        sim.place_algo(
            AlgoRequest(BTC, "sell", "conditional", size="1", sl_trigger_price="100100.0")
        )
    assert wrong_side.value.code == "51280"
    placed = sim.place_algo(request)
    with pytest.raises(ExchangeRejected) as duplicate:
        sim.place_algo(request)
    assert duplicate.value.code == "51065"
    [canceled] = sim.cancel_algos([(BTC, placed.algo_id)])
    assert canceled.state is AlgoState.CANCELED
    with pytest.raises(OrderNotFound):
        sim.cancel_algos([(BTC, placed.algo_id)])


def test_closing_the_position_by_hand_cancels_its_stops():
    sim, _ = engine(flat(100000, 2))
    sim.place_order(entry(sl_trigger_price="99000.0"))
    assert len(sim.open_algos()) == 1
    sim.place_order(OrderRequest(BTC, "sell", "1", "x1", reduce_only=True))
    assert sim.open_algos() == []


def test_long_short_mode_stops_protect_their_own_side_only():
    rows = [*flat(100000), (100000, 100000, 98000, 98000), *flat(98000)]
    sim, _ = engine(rows, position_mode=PositionMode.LONG_SHORT_MODE)
    sim.place_order(
        OrderRequest(
            BTC,
            "buy",
            "2",
            "L1",
            pos_side="long",
            attached_algos=[AttachedAlgo(sl_trigger_price="99000.0")],
        )
    )
    sim.place_order(
        OrderRequest(
            BTC,
            "sell",
            "1",
            "S1",
            pos_side="short",
            attached_algos=[AttachedAlgo(sl_trigger_price="101000.0")],
        )
    )
    with pytest.raises(ExchangeRejected):  # attached to a closing order: refused
        sim.place_order(
            OrderRequest(
                BTC,
                "sell",
                "1",
                "L2",
                pos_side="long",
                attached_algos=[AttachedAlgo(tp_trigger_price="99000.0")],
            )
        )
    sim.advance(at(30))
    [short] = sim.positions()
    assert short.pos_side is PosSide.SHORT and short.size == D(1)
    [live] = sim.open_algos()
    assert live.pos_side is PosSide.SHORT and live.side.value == "buy"
    assert sim.position_history()[0].pos_side == "long"
