"""/pending-order through the real ASGI app on the simulated exchange."""

from __future__ import annotations

from decimal import Decimal

import pytest
from test_http_trading import BTC, last_price


def create(api, **extra):
    price = last_price(api)
    body = {
        "symbol": BTC,
        "side": "LONG",
        "amount": "100",
        "trigger_price": str((price * Decimal("0.9")).quantize(Decimal("0.1"))),
        "stop_loss_trigger": str((price * Decimal("0.8")).quantize(Decimal("0.1"))),
        "leverage": 5,
        "expire_hours": 2,
        **extra,
    }
    return api.post("/pending-order/create", body)


def test_create_get_list_and_cancel(api):
    created = create(api)
    assert created.status_code == 200, created.text
    order = created.json()
    assert order["status"] == "PENDING" and order["crossing"] == "DOWN"
    assert (
        api.get(f"/pending-order/{order['id']}").json()["trigger_price"] == order["trigger_price"]
    )
    listed = api.get("/pending-order/status/PENDING").json()
    assert [o["id"] for o in listed] == [order["id"]]
    assert api.get("/pending-order/status/CANCELLED").json() == []

    cancelled = api.post(f"/pending-order/{order['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    again = api.post(f"/pending-order/{order['id']}/cancel")
    assert again.status_code == 409, again.text
    assert [o["id"] for o in api.get("/pending-order/status/cancelled").json()] == [order["id"]]


def test_unknown_order_is_404_and_unknown_status_400(api):
    assert api.get("/pending-order/nope").status_code == 404
    assert api.post("/pending-order/nope/cancel").status_code == 404
    bad = api.get("/pending-order/status/SLEEPING")
    assert bad.status_code == 400 and bad.json()["field"] == "status"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"amount": "-5"}, "amount"),
        ({"trigger_price": "0"}, "trigger_price"),
        ({"expire_hours": -1}, "expire_hours"),
        ({"side": "FLAT"}, "side"),
        ({"symbol": "XRP-USDT-SWAP"}, "symbol"),
        ({"leverage": "five"}, "leverage"),
    ],
)
def test_bad_create_is_400_naming_the_field_and_stores_nothing(api, extra, field):
    response = create(api, **extra)
    assert response.status_code == 400, response.text
    assert response.json()["field"] == field
    assert api.repos.pending.find() == []


def test_stop_loss_above_a_long_trigger_is_400(api):
    price = last_price(api)
    response = create(api, stop_loss_trigger=str(price * 2))
    assert response.status_code == 400
    assert response.json()["field"] == "stop_loss_trigger"
