"""Bad input to every TradingService method: a domain error naming the field, nothing
written (intents, relations, order history) and nothing sent (orders, algos, positions)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from test_trading_helpers import BTC, make_desk

from qwentrade.adapters.memory import MemoryRepositories
from qwentrade.domain.errors import DomainError, InvalidInput, NoPosition

D = Decimal
FAR = D("1e9")


@pytest.fixture(scope="module")
def desk():
    """One desk for the module (memory storage): every case must leave it as it was."""
    return make_desk(MemoryRepositories())


def snapshot(desk):
    repos, ex = desk.repos, desk.exchange
    return (
        repos.intents.find(limit=None),
        repos.relations.find(limit=None),
        repos.history.orders(limit=None),
        ex.order_history(limit=100),
        ex.open_orders(),
        ex.open_algos(),
        ex.positions(),
        ex.balance().cash_balance,
    )


def refused(desk, call, field, error=InvalidInput):
    before = snapshot(desk)
    with pytest.raises(error) as info:
        call()
    if field is not None:
        assert info.value.field == field, str(info.value)
    assert str(info.value) and "\n" not in str(info.value)
    assert snapshot(desk) == before


def last(desk):
    return desk.last()


OPEN_CASES = [
    ("symbol", dict(symbol="DOGE-USDT-SWAP")),
    ("symbol", dict(symbol="")),
    ("symbol", dict(symbol=None)),
    ("side", dict(side="buy")),
    ("side", dict(side=1)),
    ("amount", dict(amount=0)),
    ("amount", dict(amount=-5)),
    ("amount", dict(amount="lots")),
    ("amount", dict(amount=float("nan"))),
    ("amount", dict(amount=D("0.01"))),  # below one lot at any sane leverage
    ("leverage", dict(leverage=0)),
    ("leverage", dict(leverage=1000)),
    ("leverage", dict(leverage=2.5)),
    ("order_type", dict(order_type="stop")),
    ("price", dict(order_type="limit")),
    ("price", dict(order_type="limit", price=-1)),
    ("price", dict(price=0)),
    ("stop_loss_trigger", dict(stop_loss_trigger="FAR")),  # above entry for a LONG
    ("stop_loss_trigger", dict(stop_loss_trigger=-1)),
    ("take_profit_trigger", dict(take_profit_trigger="LOW")),  # below entry for a LONG
    ("stop_loss_trigger", dict(side="SHORT", stop_loss_trigger="LOW")),
    ("take_profit_trigger", dict(side="SHORT", take_profit_trigger="FAR")),
    ("signal_id", dict(signal_id="seven")),
    ("pending_order_id", dict(pending_order_id="")),
    ("key", dict(key="")),
    ("key", dict(key="k" * 151)),
]


@pytest.mark.parametrize(("field", "change"), OPEN_CASES, ids=[f for f, _ in OPEN_CASES])
def test_open_position_refuses_bad_input(desk, field, change):
    args = dict(symbol=BTC, side="LONG", amount=100)
    price = last(desk)
    for name, value in change.items():
        if value == "FAR":
            value = price * 2
        elif value == "LOW":
            value = price / 2
        args[name] = value
    symbol, side, amount = args.pop("symbol"), args.pop("side"), args.pop("amount")
    refused(desk, lambda: desk.service.open_position(symbol, side, amount, **args), field)


def test_the_other_methods_refuse_bad_input_and_a_missing_position(desk):
    s = desk.service
    refused(desk, lambda: s.add_position(BTC, 100), None, NoPosition)
    refused(desk, lambda: s.reduce_position(BTC, 10), None, NoPosition)
    refused(desk, lambda: s.close_position(BTC), None, NoPosition)
    refused(desk, lambda: s.close_position("NOPE"), "symbol")
    refused(desk, lambda: s.close_position(BTC, reason=""), "reason")
    refused(desk, lambda: s.close_position(BTC, reason="x" * 201), "reason")
    refused(desk, lambda: s.set_stop_loss_take_profit("qtnothing", []), "cl_ord_id")
    refused(desk, lambda: s.set_stop_loss_take_profit("", []), "cl_ord_id")
    refused(desk, lambda: s.order_status("qtnothing"), "cl_ord_id")
    refused(desk, lambda: s.handle_external_close("NOPE"), "symbol")
    refused(desk, lambda: s.handle_external_close(BTC, reason=" "), "reason")
    refused(desk, lambda: s.current_positions("NOPE"), "symbol")
    assert s.handle_external_close(BTC) is None


@pytest.fixture(scope="module")
def held(desk):
    """A LONG held on the module's desk for the add/reduce/close/plans cases."""
    price = last(desk)
    cl = desk.service.open_position(BTC, "LONG", 200, price * D("0.9"), leverage=10)
    return cl, price


def test_add_reduce_close_refuse_bad_input_with_a_position_held(desk, held):
    s = desk.service
    _, price = held
    refused(desk, lambda: s.add_position(BTC, 0), "amount")
    refused(desk, lambda: s.add_position(BTC, "x"), "amount")
    refused(desk, lambda: s.add_position(BTC, D("0.001")), "amount")
    refused(desk, lambda: s.add_position(BTC, 10, stop_loss_trigger=price * 2), "stop_loss_trigger")
    refused(
        desk, lambda: s.add_position(BTC, 10, take_profit_trigger=price / 2), "take_profit_trigger"
    )
    refused(desk, lambda: s.add_position(BTC, 10, key=""), "key")
    refused(desk, lambda: s.reduce_position(BTC, 0), "amount")
    refused(desk, lambda: s.reduce_position(BTC, 10_000), "amount")  # more than held
    refused(desk, lambda: s.reduce_position(BTC, D("1e-9")), "amount")  # less than a lot
    refused(desk, lambda: s.close_position(BTC, amount=-1), "amount")
    refused(desk, lambda: s.close_position(BTC, amount=10_000), "amount")


PLAN_CASES = [
    ("plans", "not a list"),
    ("plans", {"kind": "stop_loss"}),
    ("plans", []),  # no stop-loss
    ("plans", [{"kind": "take_profit", "trigger_price": "HIGH", "fraction": 1}]),
    ("plans[0]", [42]),
    ("plans[0].kind", [{"kind": "trailing", "trigger_price": "LOW", "size": 1}]),
    ("plans[0].trigger_price", [{"kind": "stop_loss", "size": 1}]),
    ("plans[0].trigger_price", [{"kind": "stop_loss", "trigger_price": -1, "size": 1}]),
    ("plans[0].trigger_price", [{"kind": "stop_loss", "trigger_price": "HIGH", "size": 1}]),
    ("plans[0].size", [{"kind": "stop_loss", "trigger_price": "LOW"}]),
    ("plans[0].size", [{"kind": "stop_loss", "trigger_price": "LOW", "size": 1, "fraction": 1}]),
    ("plans[0].size", [{"kind": "stop_loss", "trigger_price": "LOW", "size": 0}]),
    ("plans[0].fraction", [{"kind": "stop_loss", "trigger_price": "LOW", "fraction": 2}]),
    ("plans", [{"kind": "stop_loss", "trigger_price": "LOW", "size": 10_000}]),  # > size
    (
        "plans[1].trigger_price",
        [
            {"kind": "stop_loss", "trigger_price": "LOW", "fraction": 1},
            {"kind": "take_profit", "trigger_price": "LOW", "fraction": 1},
        ],
    ),
]


@pytest.mark.parametrize(("field", "plans"), PLAN_CASES, ids=[f for f, _ in PLAN_CASES])
def test_set_stop_loss_take_profit_refuses_bad_plans(desk, held, field, plans):
    cl, price = held

    def fill(value):
        if isinstance(value, dict):
            return {k: fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [fill(v) for v in value]
        return {"LOW": price * D("0.95"), "HIGH": price * D("1.5")}.get(value, value)

    before = snapshot(desk)
    with pytest.raises(DomainError) as info:
        desk.service.set_stop_loss_take_profit(cl, fill(plans))
    assert isinstance(info.value, InvalidInput)
    assert info.value.field == field or info.value.field.startswith(field), str(info.value)
    assert snapshot(desk) == before
