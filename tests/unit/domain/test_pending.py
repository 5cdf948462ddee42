"""Pending trigger orders: crossing, expiry, supersession, refused moves."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal as D

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwentrade.domain.errors import InvalidInput, InvalidTransition
from qwentrade.domain.events import (
    PendingCancelled,
    PendingCreated,
    PendingExpired,
    PendingTriggered,
)
from qwentrade.domain.pending import (
    TRANSITIONS,
    Crossing,
    PendingOrder,
    PendingState,
    supersede,
)
from qwentrade.domain.position import Side
from qwentrade.testing.builders import T0, instrument, minutes, pending
from qwentrade.testing.strategies import price_paths

INST = instrument()


def test_create_derives_the_crossing_from_the_current_price_and_expires_after_an_hour():
    above, events = PendingOrder.create("a", INST, Side.LONG, "105", "1", 3, T0, current_price=100)
    below, _ = PendingOrder.create("b", INST, Side.LONG, "95", "1", 3, T0, current_price=100)
    assert above.crossing is Crossing.UP and below.crossing is Crossing.DOWN
    assert above.expire_at == T0 + timedelta(hours=1)
    assert above.status is PendingState.PENDING
    assert events == (
        PendingCreated(
            "a", INST.inst_id, Side.LONG, D("105.0"), Crossing.UP, D("1.00"), above.expire_at, T0
        ),
    )


def test_create_names_the_amount_when_it_is_not_a_valid_size():
    for amount in ("0", "0.001", "-1"):
        with pytest.raises(InvalidInput) as caught:
            PendingOrder.create("a", INST, Side.LONG, "105", amount, 3, T0, current_price=100)
        assert caught.value.field == "amount"


def test_the_amount_is_a_margin_in_usdt_that_must_buy_the_minimum_size():
    """The stored amount is USDT of margin (what open_position takes), not contracts:
    kept as given, and refused when at the trigger price and leverage it buys less than
    the minimum size (0.003 x 3 / (105 x 0.01) = 0.0086 < 0.01 contracts)."""
    order, _ = PendingOrder.create("a", INST, Side.LONG, "105", "1.234", 3, T0, current_price=100)
    assert order.amount == D("1.234")  # not rounded to the 0.01 lot
    with pytest.raises(InvalidInput) as caught:
        PendingOrder.create("a", INST, Side.LONG, "105", "0.003", 3, T0, current_price=100)
    assert caught.value.field == "amount"
    assert "0.003 USDT at x3 buys 0.00 contracts" in str(caught.value)
    assert "give at least 0.01 USDT" in str(caught.value)


def test_protection_prices_are_kept_rounded_to_the_tick():
    order, _ = PendingOrder.create(
        "a",
        INST,
        Side.LONG,
        "105",
        "1",
        3,
        T0,
        current_price=100,
        stop_loss_trigger="99.04",
        take_profit_trigger="120",
    )
    assert (order.stop_loss_trigger, order.take_profit_trigger) == (D("99.0"), D("120.0"))


def test_a_level_equal_to_the_current_price_needs_an_explicit_crossing():
    with pytest.raises(InvalidInput) as caught:
        PendingOrder.create("a", INST, Side.LONG, "100", "1", 3, T0, current_price="100.0")
    assert caught.value.field == "trigger_price"
    with pytest.raises(InvalidInput) as caught:
        PendingOrder.create("a", INST, Side.LONG, "100", "1", 3, T0)
    assert caught.value.field == "crossing"


@pytest.mark.parametrize(
    ("side", "field", "value"),
    [
        (Side.LONG, "stop_loss_trigger", "101"),
        (Side.LONG, "take_profit_trigger", "99"),
        (Side.SHORT, "stop_loss_trigger", "99"),
        (Side.SHORT, "take_profit_trigger", "100"),
    ],
)
def test_protection_must_be_on_the_right_side_of_the_trigger_price(side, field, value):
    with pytest.raises(InvalidInput) as caught:
        PendingOrder.create(
            "a", INST, side, "100", "1", 3, T0, crossing=Crossing.UP, **{field: value}
        )
    assert caught.value.field == field


@pytest.mark.parametrize(
    ("crossing", "price", "fires"),
    [
        (Crossing.UP, "109.9", False),
        (Crossing.UP, "110", True),
        (Crossing.UP, "111", True),
        (Crossing.DOWN, "110.1", False),
        (Crossing.DOWN, "110", True),
        (Crossing.DOWN, "90", True),
    ],
)
def test_triggers_at_or_beyond_the_level_in_its_direction(crossing, price, fires):
    assert pending(trigger_price="110", crossing=crossing).triggers(price) is fires


def test_expiry_is_inclusive_and_wins_over_a_trigger_at_the_same_time():
    order = pending(trigger_price="110")
    assert not order.expired(minutes(59.99))
    assert order.expired(minutes(60))
    done, events = order.evaluate("200", minutes(60))
    assert done.status is PendingState.EXPIRED
    assert events == (PendingExpired("p1", order.symbol, minutes(60), minutes(60)),)
    with pytest.raises(InvalidTransition, match="expire it instead"):
        order.apply("trigger", minutes(61), price="200")
    with pytest.raises(InvalidTransition, match="cancel it to stop it earlier"):
        order.apply("expire", minutes(30))


def test_evaluate_triggers_on_a_crossing_and_otherwise_does_nothing():
    order = pending(trigger_price="110", crossing=Crossing.UP)
    same, events = order.evaluate("109", minutes(10))
    assert same is order and events == ()
    done, events = order.evaluate("110.5", minutes(11))
    assert done.status is PendingState.TRIGGERED and done.fill_price == D("110.5")
    assert events == (
        PendingTriggered(
            "p1", order.symbol, Side.LONG, D("110.0"), D("110.5"), D("1.00"), minutes(11)
        ),
    )


def test_trigger_needs_a_price_that_crossed():
    order = pending(trigger_price="110", crossing=Crossing.UP)
    with pytest.raises(InvalidInput) as caught:
        order.apply("trigger", minutes(1), price="100")
    assert caught.value.field == "price"
    with pytest.raises(InvalidInput):
        order.apply("trigger", minutes(1))
    with pytest.raises(InvalidInput) as caught:
        order.apply("fill", minutes(1))
    assert caught.value.field == "action"


@pytest.mark.parametrize("first", ["trigger", "cancel", "expire"])
@pytest.mark.parametrize("second", ["trigger", "cancel", "expire"])
def test_terminal_states_are_final(first, second):
    order = pending(trigger_price="110", crossing=Crossing.UP)
    done, _ = order.apply(first, minutes(60 if first == "expire" else 1), price="120")
    assert done.status is TRANSITIONS[(PendingState.PENDING, first)]
    with pytest.raises(InvalidTransition, match="a final state"):
        done.apply(second, minutes(90), price="120")
    assert done.evaluate("120", minutes(120)) == (done, ())


def test_a_new_pending_order_cancels_the_older_one_of_its_symbol_only():
    old = pending("old", at=T0)
    other = pending("eth", inst=instrument("ETH-USDT-SWAP"))
    finished, _ = pending("done").apply("cancel", minutes(1))
    new = pending("new", at=minutes(5))
    cancelled, events = supersede([old, other, finished, new], new)
    assert [o.id for o in cancelled] == ["old"]
    assert cancelled[0].status is PendingState.CANCELLED
    assert cancelled[0].reason == "superseded by new"
    assert events == (PendingCancelled("old", old.symbol, "superseded by new", minutes(5)),)


@settings(max_examples=200, deadline=None)
@given(path=price_paths(start=100), level=st.integers(80, 120), up=st.booleans())
def test_it_triggers_at_the_first_price_of_a_path_that_crosses(path, level, up):
    crossing = Crossing.UP if up else Crossing.DOWN
    order = pending(trigger_price=str(level), crossing=crossing, ttl=timedelta(days=1))
    first = next(
        (i for i, p in enumerate(path) if (p >= level if up else p <= level)),
        None,
    )
    for i, price in enumerate(path):
        order, events = order.evaluate(price, minutes(i))
        if i == first:
            assert order.status is PendingState.TRIGGERED and len(events) == 1
        elif first is None or i < first:
            assert order.status is PendingState.PENDING and events == ()
        else:
            assert events == ()  # terminal: nothing more happens
    assert (order.status is PendingState.TRIGGERED) == (first is not None)
