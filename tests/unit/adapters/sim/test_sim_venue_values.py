"""The exchange-facing value objects of ``domain.venue`` the simulator is built on."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qwentrade.domain.errors import InvalidInput
from qwentrade.domain.venue import (
    ALGO_TRANSITIONS,
    ORDER_TRANSITIONS,
    AlgoRequest,
    AlgoState,
    AttachedAlgo,
    Order,
    OrderRequest,
    OrderState,
    check_client_order_id,
)

ALNUM = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


@settings(deadline=None, max_examples=60)
@given(st.text(alphabet=ALNUM, min_size=1, max_size=32))
def test_client_order_ids_of_1_to_32_alphanumerics_are_accepted(cid):
    assert check_client_order_id(cid) == cid


@pytest.mark.parametrize("cid", ["", "a" * 33, "has-dash", "spa ce", "ünï"])
def test_other_client_order_ids_are_refused_naming_the_field(cid):
    with pytest.raises(InvalidInput) as caught:
        OrderRequest("BTC-USDT-SWAP", "buy", "1", cid)
    assert caught.value.field == "client_order_id"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"size": "0"}, "size"),
        ({"order_type": "limit"}, "price"),
        ({"price": "100"}, "price"),
        (
            {"reduce_only": True, "attached_algos": [AttachedAlgo(sl_trigger_price="1")]},
            "attached_algos",
        ),
    ],
)
def test_order_request_rules(kwargs, field):
    base = {"symbol": "BTC-USDT-SWAP", "side": "buy", "size": "1", "client_order_id": "c1"}
    with pytest.raises(InvalidInput) as caught:
        OrderRequest(**{**base, **kwargs})
    assert caught.value.field == field


def test_attached_algo_needs_a_trigger_and_order_prices_need_their_trigger():
    with pytest.raises(InvalidInput):
        AttachedAlgo()
    with pytest.raises(InvalidInput) as caught:
        AttachedAlgo(tp_trigger_price="10", sl_order_price="9")
    assert caught.value.field == "sl_order_price"


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"algo_type": "oco", "sl_trigger_price": "1"}, "algo_type"),
        (
            {"algo_type": "conditional", "sl_trigger_price": "1", "tp_trigger_price": "2"},
            "algo_type",
        ),
        ({"algo_type": "conditional", "sl_trigger_price": "1", "size": None}, "size"),
        (
            {
                "algo_type": "conditional",
                "sl_trigger_price": "1",
                "size": None,
                "close_fraction": "0.5",
            },
            "close_fraction",
        ),
    ],
)
def test_algo_request_rules(kwargs, field):
    base = {"symbol": "BTC-USDT-SWAP", "side": "sell", "size": "1"}
    with pytest.raises(InvalidInput) as caught:
        AlgoRequest(**{**base, **kwargs})
    assert caught.value.field == field


def test_terminal_states_have_no_way_out():
    for state in (OrderState.FILLED, OrderState.CANCELED):
        assert ORDER_TRANSITIONS[state] == frozenset()
    for state in (AlgoState.EFFECTIVE, AlgoState.CANCELED, AlgoState.ORDER_FAILED):
        assert ALGO_TRANSITIONS[state] == frozenset()
    assert OrderState.LIVE.is_open and not OrderState.FILLED.is_open


def test_order_to_record_keeps_every_reported_field():
    now = datetime(2024, 1, 1, tzinfo=UTC)
    order = Order(
        order_id="1",
        client_order_id="c1",
        symbol="BTC-USDT-SWAP",
        side="sell",
        pos_side="net",
        order_type="limit",
        state="filled",
        size="2",
        filled_size="2",
        price="100",
        avg_price="100",
        fee="-0.04",
        pnl="3",
        leverage=5,
        reduce_only=True,
        td_mode="isolated",
        created_at=now,
        updated_at=now,
        source="7",
    )
    record = order.to_record()
    assert (record.side, record.pos_side, record.order_type, record.status) == (
        "sell",
        "net",
        "limit",
        "filled",
    )
    assert (record.cl_ord_id, record.amount, record.filled_amount) == ("c1", 2, 2)
    assert record.fee == order.fee and record.pnl == order.pnl and record.leverage == 5
    assert record.td_mode == "isolated" and record.source == "7" and record.reduce_only
