"""Position aggregate: hand-computed PnL, rounding, refused transitions, plans."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwentrade.domain.errors import InvalidInput, InvalidTransition
from qwentrade.domain.events import (
    LeverageChanged,
    PlansChanged,
    PositionClosed,
    PositionClosedExternally,
    PositionIncreased,
    PositionOpened,
    PositionReduced,
)
from qwentrade.domain.position import Plan, PlanKind, Position, PositionStatus, Side
from qwentrade.testing.builders import T0, instrument, minutes, position
from qwentrade.testing.strategies import fees, instruments, prices, sizes

BTC_LIKE = instrument()  # ct_val 0.01, lot 0.01, tick 0.1


def test_open_rounds_size_down_to_the_lot_and_price_to_the_nearest_tick():
    opened, events = Position.open(BTC_LIKE, Side.LONG, "1.239", "100.06", 5, T0, fee="0.02")
    assert opened.size == D("1.23")
    assert opened.average_price == D("100.1")
    assert opened.realized_pnl == D("-0.02")
    assert events == (
        PositionOpened("TEST-USDT-SWAP", Side.LONG, D("1.23"), D("100.1"), 5, D("0.02"), T0),
    )


def test_long_round_trip_pnl_is_price_difference_times_size_times_contract_value_minus_fees():
    # 2 contracts at 100, 1 more at 130: average 110; close all 3 at 120.
    pos = position(Side.LONG, "2", "100", fee="0.1")
    pos, events = pos.add("1", "130", minutes(1), fee="0.05")
    assert pos.average_price == D("110")
    assert isinstance(events[0], PositionIncreased) and events[0].average_price == D("110")
    closed, events = pos.close("120", minutes(2), fee="0.2")
    # (120*3 - (100*2 + 130)) * 0.01 = 0.3 ; minus fees 0.35 -> -0.05
    assert closed.realized_pnl == D("-0.05")
    assert closed.fees == D("0.35")
    assert closed.status is PositionStatus.CLOSED and closed.size == 0
    assert isinstance(events[0], PositionClosed)
    assert events[0].realized_pnl == D("0.1")  # this fill: 0.3 - 0.2
    assert events[0].total_realized_pnl == D("-0.05")
    assert closed.close_average_price == D("120")


def test_short_pnl_is_entry_minus_exit():
    pos = position(Side.SHORT, "4", "200")
    pos, events = pos.reduce("1", "180", minutes(1), fee="0.01")
    # (200 - 180) * 1 * 0.01 - 0.01 = 0.19
    assert isinstance(events[0], PositionReduced)
    assert events[0].realized_pnl == D("0.19") and events[0].remaining_size == D("3")
    assert pos.unrealized_pnl("210") == D("-0.3")  # (200 - 210) * 3 * 0.01
    assert pos.realized_pnl == D("0.19")


def test_pnl_percentage_is_relative_to_the_initial_margin():
    pos = position(Side.LONG, "10", "100", leverage=20)  # value 10 USDT, margin 0.5
    assert pos.margin == D("0.5")
    assert pos.unrealized_pnl("101") == D("0.1")
    assert pos.pnl_percentage("101") == D("20")  # 0.1 / 0.5 = 20 %


def test_partial_close_takes_a_proportional_share_of_the_cost():
    pos = position(Side.LONG, "3", "100")
    pos, _ = pos.add("0.5", "101.3", minutes(1))
    pos, _ = pos.reduce("1", "102", minutes(2))
    pos, _ = pos.reduce("1.5", "99", minutes(3))
    closed, _ = pos.close("103", minutes(4))
    entries = D("100") * 3 + D("101.3") * D("0.5")
    exits = D("102") * 1 + D("99") * D("1.5") + D("103") * 1
    assert closed.realized_pnl == (exits - entries) * D("0.01")


def test_reduce_more_than_held_is_refused_and_leaves_the_position_as_it_was():
    pos = position(Side.LONG, "2", "100")
    with pytest.raises(InvalidInput) as caught:
        pos.reduce("2.01", "100", minutes(1))
    assert caught.value.field == "size"
    assert "at most 2" in str(caught.value)
    assert pos.size == D("2") and pos.is_open


@pytest.mark.parametrize("action", ["add", "reduce", "close", "set_plans", "set_leverage"])
def test_every_transition_of_a_closed_position_is_refused(action):
    closed, _ = position().close("100", minutes(1))
    calls = {
        "add": lambda: closed.add("1", "100", minutes(2)),
        "reduce": lambda: closed.reduce("1", "100", minutes(2)),
        "close": lambda: closed.close("100", minutes(2)),
        "set_plans": lambda: closed.set_plans((), minutes(2)),
        "set_leverage": lambda: closed.set_leverage(3, minutes(2)),
    }
    with pytest.raises(InvalidTransition, match="CLOSED"):
        calls[action]()


@pytest.mark.parametrize(
    ("field", "call"),
    [
        ("size", lambda p: p.add("0", "100", T0)),
        ("size", lambda p: p.add("-1", "100", T0)),
        ("size", lambda p: p.add("0.004", "100", T0)),  # rounds down to nothing
        ("price", lambda p: p.add("1", "0", T0)),
        ("price", lambda p: p.reduce("1", "-5", T0)),
        ("size", lambda p: p.reduce("0", "100", T0)),
        ("fee", lambda p: p.add("1", "100", T0, fee="NaN")),
        ("leverage", lambda p: p.set_leverage(0, T0)),
        ("leverage", lambda p: p.set_leverage(101, T0)),
        ("at", lambda p: p.add("1", "100", datetime(2024, 1, 1))),  # naive
    ],
)
def test_bad_inputs_name_their_field(field, call):
    with pytest.raises(InvalidInput) as caught:
        call(position())
    assert caught.value.field == field


def test_open_checks_leverage_against_the_instrument():
    with pytest.raises(InvalidInput, match=re.escape("outside 1..20")):
        Position.open(instrument(max_lever=20), Side.LONG, "1", "100", 21, T0)


@pytest.mark.parametrize(
    ("side", "plan", "word"),
    [
        (Side.LONG, Plan.stop_loss("100", "1"), "below"),
        (Side.LONG, Plan.stop_loss("105", "1"), "below"),
        (Side.LONG, Plan.take_profit("99", "1"), "above"),
        (Side.SHORT, Plan.stop_loss("95", "1"), "above"),
        (Side.SHORT, Plan.take_profit("100", "1"), "below"),
    ],
)
def test_plans_on_the_wrong_side_of_the_entry_are_refused(side, plan, word):
    with pytest.raises(InvalidInput, match=f"must be {word} the entry 100 for a {side.name}") as e:
        position(side, "2", "100").set_plans((plan,), minutes(1))
    assert e.value.field == "plans[0].trigger_price"


def test_plans_of_one_kind_may_not_cover_more_than_the_position():
    pos = position(Side.LONG, "2", "100")
    plans = (Plan.stop_loss("90", "1.5"), Plan.stop_loss("80", "0.6"))
    with pytest.raises(
        InvalidInput, match=re.escape("cover 2.10 contracts but the position holds 2")
    ):
        pos.set_plans(plans, minutes(1))
    # a stop-loss and a take-profit may each cover the whole position
    ok, events = pos.set_plans((Plan.stop_loss("90", "2"), Plan.take_profit("120", "2")), T0)
    assert ok.planned_size(PlanKind.STOP_LOSS) == ok.planned_size(PlanKind.TAKE_PROFIT) == 2
    assert isinstance(events[0], PlansChanged) and events[0].reason == "set"


def test_reduce_trims_the_plans_the_price_would_reach_last():
    pos = position(Side.LONG, "4", "100")
    plans = (
        Plan.stop_loss("90", "2"),
        Plan.stop_loss("95", "2"),
        Plan.take_profit("110", "1"),
        Plan.take_profit("120", "3"),
    )
    pos, _ = pos.set_plans(plans, minutes(1))
    pos, events = pos.reduce("1.5", "101", minutes(2))
    assert pos.stop_losses == (Plan.stop_loss("95.0", "2.00"), Plan.stop_loss("90.0", "0.50"))
    assert pos.take_profits == (
        Plan.take_profit("110.0", "1.00"),
        Plan.take_profit("120.0", "1.50"),
    )
    assert events[-1] == PlansChanged(pos.symbol, Side.LONG, pos.plans, "trimmed", minutes(2))


def test_a_filled_plan_is_consumed_first():
    pos = position(Side.SHORT, "4", "100")
    target = Plan.take_profit("90", "2")
    pos, _ = pos.set_plans((target, Plan.take_profit("80", "2"), Plan.stop_loss("110", "4")), T0)
    filled = pos.take_profits[0]
    pos, events = pos.reduce("2", "90", minutes(1), plan=filled)
    assert pos.take_profits == (Plan.take_profit("80.0", "2.00"),)
    assert pos.stop_losses == (Plan.stop_loss("110.0", "2.00"),)
    assert events[-1].reason == "consumed"
    with pytest.raises(InvalidInput) as caught:
        pos.reduce("1", "90", minutes(2), plan=filled)
    assert caught.value.field == "plan"


def test_close_externally_with_and_without_a_known_price():
    pos, _ = position(Side.LONG, "2", "100").set_plans((Plan.stop_loss("90", "2"),), T0)
    known, events = pos.close_externally(minutes(5), price="95", fee="0.01", reason="manual")
    assert known.status is PositionStatus.CLOSED and known.size == 0 and known.plans == ()
    assert events[0] == PositionClosedExternally(
        pos.symbol,
        Side.LONG,
        D("2"),
        D("95.0"),
        D("0.01"),
        D("-0.11"),
        D("-0.11"),
        "manual",
        minutes(5),
    )
    assert events[1].plans == () and events[1].reason == "closed"
    unknown, events = pos.close_externally(minutes(5), reason="liquidation")
    assert unknown.status is PositionStatus.CLOSED and unknown.realized_pnl == 0
    assert events[0].price is None and events[0].realized_pnl is None


def test_set_leverage_changes_the_margin():
    pos, events = position(Side.LONG, "10", "100", leverage=10).set_leverage(2, minutes(1))
    assert pos.margin == D("5")
    assert events == (LeverageChanged(pos.symbol, Side.LONG, 2, 10, minutes(1)),)


@settings(max_examples=150, deadline=None)
@given(data=st.data(), side=st.sampled_from(list(Side)))
def test_a_round_trip_realises_exactly_the_price_difference_minus_fees(data, side):
    inst = data.draw(instruments())
    entries = data.draw(
        st.lists(st.tuples(prices(inst), sizes(inst, 500), fees()), min_size=1, max_size=4)
    )
    pos, _ = Position.open(inst, side, entries[0][1], entries[0][0], 1, T0, entries[0][2])
    for price, size, fee in entries[1:]:
        pos, _ = pos.add(size, price, T0, fee)
    exits, total_fees = [], sum(fee for _, _, fee in entries)
    while pos.is_open:
        lots = int(pos.size / inst.lot_sz)
        size = data.draw(st.integers(1, lots)) * inst.lot_sz
        price, fee = data.draw(prices(inst)), data.draw(fees())
        pos, _ = pos.reduce(size, price, T0 + timedelta(seconds=len(exits)), fee)
        exits.append((price, size))
        total_fees += fee
    entry_value = sum(p * s for p, s, _ in entries) * inst.ct_val
    exit_value = sum(p * s for p, s in exits) * inst.ct_val
    assert pos.realized_pnl == side.sign * (exit_value - entry_value) - total_fees
    assert pos.fees == total_fees


def test_side_parsing_refuses_buy_and_sell():
    assert Side.parse(" Long ") is Side.LONG and Side.parse("SHORT") is Side.SHORT
    with pytest.raises(InvalidInput) as caught:
        Side.parse("sell")  # a sell may open a SHORT or close a LONG: ambiguous
    assert caught.value.field == "side"


def test_open_with_plans_and_add_one_later():
    pos, events = Position.open(
        BTC_LIKE, Side.SHORT, "2", "100", 3, T0, plans=(Plan.stop_loss("110", "2"),)
    )
    assert [type(e) for e in events] == [PositionOpened, PlansChanged]
    pos, _ = pos.add_plan(Plan.take_profit("90", "1"), minutes(1))
    assert pos.stop_losses == (Plan.stop_loss("110.0", "2.00"),)
    assert pos.take_profits == (Plan.take_profit("90.0", "1.00"),)
    with pytest.raises(InvalidInput):
        pos.add_plan(Plan.stop_loss("120", "0.5"), minutes(2))  # stops would cover 2.5 > 2
