"""/trading through the real ASGI app on the simulated exchange (SQLite and PostgreSQL)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from qwentrade.domain.market import Timeframe

BTC = "BTC-USDT-SWAP"


def last_price(api) -> Decimal:
    candle = api.container.exchange().candles(BTC, Timeframe.M15, limit=1)[-1]
    return Decimal(str(candle.close))


def opened(api, **extra) -> str:
    price = last_price(api)
    body = {
        "symbol": BTC,
        "side": "LONG",
        "amount": "200",
        "leverage": 5,
        "stop_loss_trigger": str((price * Decimal("0.9")).quantize(Decimal("0.1"))),
        "take_profit_trigger": str((price * Decimal("1.1")).quantize(Decimal("0.1"))),
        **extra,
    }
    response = api.post("/trading/open-position", body)
    assert response.status_code == 200, response.text
    return response.json()["cl_ord_id"]


def test_a_position_opened_protected_reduced_and_closed_over_http(api):
    cl_ord_id = opened(api)
    status = api.get(f"/trading/order-status/{cl_ord_id}").json()
    assert status["symbol"] == BTC and status["intent"]["state"] == "ACKNOWLEDGED"
    held = api.get("/trading/current-position", params={"symbol": BTC}).json()
    assert len(held) == 1 and held[0]["side"] == "LONG" and held[0]["cl_ord_id"] == cl_ord_id
    assert held[0]["plans"], "the stop-loss and take-profit are held on the exchange"
    size = Decimal(held[0]["size"])

    price = last_price(api)
    plans = {
        "cl_ord_id": cl_ord_id,
        "plans": [
            {"kind": "stop_loss", "trigger_price": str(price * Decimal("0.95")), "fraction": "1"},
            {
                "kind": "take_profit",
                "trigger_price": str(price * Decimal("1.2")),
                "fraction": "0.5",
            },
        ],
    }
    replaced = api.post("/trading/set-stop-loss-take-profit", plans)
    assert replaced.status_code == 200, replaced.text
    assert len(replaced.json()["plans"]) == 2

    reduced = api.post("/trading/reduce-position", {"symbol": BTC, "amount": "50"})
    assert reduced.status_code == 200, reduced.text
    after = api.get("/trading/current-position").json()
    assert Decimal(after[0]["size"]) < size

    closed = api.post("/trading/close-position", {"symbol": BTC})
    assert closed.status_code == 200, closed.text
    assert api.get("/trading/current-position").json() == []
    relation = api.repos.relations.get(cl_ord_id)
    assert relation.status == "CLOSED" and relation.close_order_id


def test_one_position_per_symbol_is_409_and_nothing_is_sent(api):
    opened(api)
    intents = len(api.repos.intents.find(limit=None))
    second = api.post("/trading/open-position", {"symbol": BTC, "side": "SHORT", "amount": "100"})
    assert second.status_code == 409, second.text
    assert second.json()["error"] == "PositionExists"
    assert len(api.repos.intents.find(limit=None)) == intents


def test_the_same_key_never_opens_twice(api):
    first = opened(api, key="desk-order-1")
    again = opened(api, key="desk-order-1")
    assert again == first
    assert len(api.get("/trading/current-position").json()) == 1


def test_nothing_to_close_or_reduce_is_404(api):
    for path, body in (
        ("/trading/close-position", {"symbol": BTC}),
        ("/trading/reduce-position", {"symbol": BTC, "amount": "10"}),
        ("/trading/add-position", {"symbol": BTC, "amount": "10"}),
    ):
        response = api.post(path, body)
        assert response.status_code == 404, (path, response.text)
        assert response.json()["error"] == "NoPosition"
    assert api.get("/trading/order-status/qt-nothing").status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"symbol": BTC, "side": "LONG", "amount": "-1"}, "amount"),
        ({"symbol": BTC, "side": "LONG", "amount": 0}, "amount"),
        ({"symbol": BTC, "side": "LONG"}, "amount"),
        ({"symbol": BTC, "side": "UP", "amount": "10"}, "side"),
        ({"symbol": BTC, "side": "LONG", "amount": "ten"}, "amount"),
        ({"symbol": "DOGE-USDT-SWAP", "side": "LONG", "amount": "10"}, "symbol"),
        ({"symbol": "btc", "side": "LONG", "amount": "10"}, "symbol"),
        ({"symbol": BTC, "side": "LONG", "amount": "10", "leverage": 0}, "leverage"),
        ({"symbol": BTC, "side": "LONG", "amount": "10", "leverage": 1000}, "leverage"),
        ({"symbol": BTC, "side": "LONG", "amount": "10", "colour": "red"}, "colour"),
        ({"symbol": BTC, "side": "LONG", "amount": "0.0001"}, "amount"),  # below one lot
    ],
)
def test_bad_open_requests_are_400_naming_the_field_and_send_nothing(api, body, field):
    response = api.post("/trading/open-position", body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert api.repos.intents.find(limit=None) == []


def test_stop_loss_on_the_wrong_side_is_400(api):
    price = last_price(api)
    body = {"symbol": BTC, "side": "LONG", "amount": "100", "stop_loss_trigger": str(price * 2)}
    response = api.post("/trading/open-position", body)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == "stop_loss_trigger"
    assert api.get("/trading/current-position").json() == []


def test_positions_can_be_named_by_the_order_that_opened_them(api):
    cl_ord_id = opened(api)
    reduced = api.post("/trading/reduce-position", {"cl_ord_id": cl_ord_id, "amount": "40"})
    assert reduced.status_code == 200, reduced.text
    mismatch = api.post(
        "/trading/close-position", {"cl_ord_id": cl_ord_id, "symbol": "ETH-USDT-SWAP"}
    )
    assert mismatch.status_code == 400 and mismatch.json()["field"] == "cl_ord_id"
    unknown = api.post("/trading/close-position", {"cl_ord_id": "qt-never-sent"})
    assert unknown.status_code == 404
    neither = api.post("/trading/close-position", {})
    assert neither.status_code == 400 and neither.json()["field"] == "symbol"
    closed = api.post("/trading/close-position", {"cl_ord_id": cl_ord_id})
    assert closed.status_code == 200, closed.text
    assert api.get("/trading/current-position").json() == []
