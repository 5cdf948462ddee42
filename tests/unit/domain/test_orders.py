"""Order intents: client order ids and the intent state table."""

from __future__ import annotations

import itertools
from decimal import Decimal as D

import attrs
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwentrade.domain.errors import InvalidInput, InvalidTransition
from qwentrade.domain.orders import (
    INTENT_ACTIONS,
    INTENT_TRANSITIONS,
    TERMINAL_INTENT_STATES,
    IntentAction,
    IntentState,
    OrderIntent,
    derive_client_order_id,
    is_valid_client_order_id,
)
from qwentrade.domain.position import Side
from qwentrade.testing.builders import intent, minutes
from qwentrade.testing.strategies import intents


@settings(max_examples=300, deadline=None)
@given(intents())
def test_client_order_ids_are_okx_valid_and_stable(made):
    cid = derive_client_order_id(made)
    assert is_valid_client_order_id(cid) and len(cid) == 32
    assert cid == made.client_order_id
    # payload and state do not enter: a retry after a database round trip finds the same id
    again = attrs.evolve(
        made,
        size=made.size * 10 + 1,
        price=None,
        created_at=minutes(999),
        state=IntentState.SENT,
        order_id="123",
    )
    assert derive_client_order_id(again) == cid


@settings(max_examples=300, deadline=None)
@given(intents(), intents())
def test_different_identities_get_different_ids(one, two):
    same_identity = (one.key, one.symbol, one.action, one.side) == (
        two.key,
        two.symbol,
        two.action,
        two.side,
    )
    assert (one.client_order_id == two.client_order_id) == same_identity


def test_ids_differ_by_each_identity_field_and_by_leg():
    base = intent()
    variants = [
        attrs.evolve(base, key="k2"),
        attrs.evolve(base, symbol="ETH-USDT-SWAP"),
        attrs.evolve(base, action=IntentAction.ADD),
        attrs.evolve(base, side=Side.SHORT),
    ]
    ids = {base.client_order_id} | {v.client_order_id for v in variants}
    ids |= {derive_client_order_id(base, "sl"), derive_client_order_id(base, "tp1")}
    assert len(ids) == 7
    assert base.client_order_id.startswith("qto")
    assert derive_client_order_id(base, "sl") == derive_client_order_id(intent(), "sl")
    with pytest.raises(InvalidInput) as caught:
        derive_client_order_id(base, "s-l")
    assert caught.value.field == "leg"


def test_the_id_does_not_depend_on_how_a_decimal_was_written():
    assert intent(size="1").client_order_id == intent(size="1.000").client_order_id


@pytest.mark.parametrize(
    ("action", "side", "order_side", "reduce_only"),
    [
        (IntentAction.OPEN, Side.LONG, "buy", False),
        (IntentAction.ADD, Side.SHORT, "sell", False),
        (IntentAction.REDUCE, Side.LONG, "sell", True),
        (IntentAction.CLOSE, Side.SHORT, "buy", True),
        (IntentAction.STOP_LOSS, Side.LONG, "sell", True),
        (IntentAction.TAKE_PROFIT, Side.SHORT, "buy", True),
    ],
)
def test_order_side_follows_the_position_side_and_action(action, side, order_side, reduce_only):
    made = intent(action=action, side=side)
    assert made.order_side == order_side and made.reduce_only is reduce_only


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("size", {"size": "0"}),
        ("price", {"price": "-1"}),
        ("trigger_price", {"action": IntentAction.STOP_LOSS, "trigger_price": "0"}),
        ("trigger_price", {"action": IntentAction.OPEN, "trigger_price": "90"}),
        ("key", {"key": ""}),
        ("key", {"key": "x" * 201}),
        ("created_at", {"at": minutes(1).replace(tzinfo=None)}),
    ],
)
def test_bad_intents_name_the_field(field, kwargs):
    with pytest.raises(InvalidInput) as caught:
        intent(**kwargs)
    assert caught.value.field == field


def test_algo_intents_need_a_trigger_price():
    with pytest.raises(InvalidInput, match="needs its trigger price"):
        OrderIntent("k", "BTC-USDT-SWAP", IntentAction.STOP_LOSS, Side.LONG, D(1), minutes(0))


def test_every_state_and_action_follows_the_table():
    for state, action in itertools.product(IntentState, INTENT_ACTIONS):
        made = attrs.evolve(intent(), state=state)
        if (state, action) in INTENT_TRANSITIONS:
            after = made.apply(action, order_id="42" if action == "acknowledge" else None)
            assert after.state is INTENT_TRANSITIONS[(state, action)]
        else:
            with pytest.raises(InvalidTransition, match=state.name):
                made.apply(action)
    for state in TERMINAL_INTENT_STATES:
        assert not any(s is state for s, _ in INTENT_TRANSITIONS)


def test_outcome_unknown_is_settled_only_by_a_lookup():
    sent = intent().apply("send")
    lost = sent.apply("answer_lost", error="timeout after 10 s")
    assert lost.state is IntentState.OUTCOME_UNKNOWN and lost.error == "timeout after 10 s"
    with pytest.raises(InvalidTransition):
        lost.apply("send")  # never re-sent blindly
    found = lost.apply("acknowledge", order_id="312269865356374016")
    assert found.state is IntentState.ACKNOWLEDGED and found.order_id == "312269865356374016"
    assert lost.apply("not_found").state is IntentState.NOT_FOUND
    assert found.client_order_id == intent().client_order_id
    with pytest.raises(InvalidInput) as caught:
        sent.apply("resend")
    assert caught.value.field == "action"


@settings(max_examples=100, deadline=None)
@given(st.lists(st.sampled_from(INTENT_ACTIONS), max_size=8))
def test_any_sequence_of_actions_walks_the_table(actions):
    made = intent()
    for action in actions:
        expected = INTENT_TRANSITIONS.get((made.state, action))
        if expected is None:
            with pytest.raises(InvalidTransition):
                made.apply(action)
        else:
            made = made.apply(action)
            assert made.state is expected
        assert made.client_order_id == intent().client_order_id
