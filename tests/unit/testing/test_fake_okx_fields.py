"""Every field real OKX responses carry is in the fake's answers, with the same JSON type.

The recorded payloads are excerpts in ``tests/data/okx/`` (see its README).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fake_okx_helpers import BTC, is_push, ws_connect, ws_login, ws_next

DATA = Path(__file__).resolve().parents[2] / "data" / "okx"
ORDER = "/api/v5/trade/order"


def recorded(name: str):
    return json.loads((DATA / name).read_text())


def assert_same_shape(real, fake, where: str) -> None:
    """``fake`` has every key of ``real`` (recursively), each with the same JSON type."""
    if isinstance(real, dict):
        assert isinstance(fake, dict), f"{where}: expected an object, got {fake!r}"
        missing = sorted(set(real) - set(fake))
        assert not missing, f"{where}: missing fields {missing}"
        for key, value in real.items():
            assert_same_shape(value, fake[key], f"{where}.{key}")
    elif isinstance(real, list):
        assert isinstance(fake, list), f"{where}: expected a list, got {fake!r}"
        if real and fake:
            assert_same_shape(real[0], fake[0], f"{where}[0]")
    else:
        assert type(fake) is type(real), (
            f"{where}: {real!r} is {type(real).__name__}, the fake sent {fake!r}"
        )


@pytest.fixture
def trading(client):
    """An account with a filled entry, a protecting oco, a resting limit order with TP/SL
    attached, a standalone stop, and a closed position in the history."""
    rows = client.data(client.get("/api/v5/market/candles", f"instId={BTC}&bar=15m&limit=1"))
    price = float(rows[0][4])
    entry = {"instId": BTC, "tdMode": "cross", "side": "buy", "ordType": "market", "sz": "1"}
    client.data(client.post(ORDER, entry | {"clOrdId": "open1"}))
    client.data(client.post(ORDER, entry | {"clOrdId": "close1", "side": "sell"}))
    client.data(client.post(ORDER, entry | {"clOrdId": "open2", "sz": "2"}))
    legs = {
        "slTriggerPx": f"{price * 0.8:.1f}",
        "slOrdPx": "-1",
        "tpTriggerPx": f"{price * 1.1:.1f}",
        "tpOrdPx": "-1",
    }
    client.data(
        client.post(
            ORDER,
            entry
            | {
                "clOrdId": "limit1",
                "ordType": "limit",
                "px": f"{price * 0.9:.1f}",
                "attachAlgoOrds": [legs],
            },
        )
    )
    client.data(
        client.post(
            "/api/v5/trade/order-algo",
            {
                "instId": BTC,
                "tdMode": "cross",
                "side": "sell",
                "ordType": "conditional",
                "sz": "1",
                "slTriggerPx": f"{price * 0.85:.1f}",
                "slOrdPx": "-1",
                "reduceOnly": "true",
            },
        )
    )
    return client


@pytest.mark.parametrize(
    ("name", "path", "query"),
    [
        ("http_get_public_time.json", "/api/v5/public/time", ""),
        ("http_get_public_instruments.json", "/api/v5/public/instruments", "instType=SWAP"),
        ("http_get_market_books.json", "/api/v5/market/books", f"instId={BTC}&sz=2"),
        ("http_get_public_funding_rate.json", "/api/v5/public/funding-rate", f"instId={BTC}"),
        (
            "http_get_public_funding_rate_history.json",
            "/api/v5/public/funding-rate-history",
            f"instId={BTC}",
        ),
        ("http_get_account_balance.json", "/api/v5/account/balance", ""),
        ("http_get_account_balance_multi.json", "/api/v5/account/balance", ""),
        ("http_get_account_positions.json", "/api/v5/account/positions", ""),
        ("http_get_account_positions_history.json", "/api/v5/account/positions-history", ""),
        ("http_get_account_config.json", "/api/v5/account/config", ""),
        ("http_get_trade_order.json", ORDER, f"instId={BTC}&clOrdId=open1"),
        ("http_get_trade_orders_history.json", "/api/v5/trade/orders-history", "instType=SWAP"),
        ("http_get_trade_orders_pending.json", "/api/v5/trade/orders-pending", ""),
        (
            "http_get_trade_orders_algo_pending.json",
            "/api/v5/trade/orders-algo-pending",
            "ordType=conditional",
        ),
    ],
)
def test_get_endpoints_carry_every_recorded_field(trading, name, path, query):
    real = recorded(name)
    fake = trading.get(path, query).json()
    assert fake["code"] == "0" and fake["data"], fake
    assert_same_shape(real, fake, name)


def test_candle_rows_have_nine_strings(client):
    real = recorded("http_get_market_candles.json")["data"][0]
    fake = client.data(client.get("/api/v5/market/candles", f"instId={BTC}&bar=15m"))[0]
    assert len(fake) == len(real) == 9 and all(isinstance(v, str) for v in fake)
    assert fake[8] in ("0", "1")


def test_pending_orders_show_their_attached_tp_sl(trading):
    fake = trading.data(trading.get("/api/v5/trade/orders-pending"))[0]
    assert fake["attachAlgoOrds"] and fake["attachAlgoOrds"][0]["slOrdPx"] == "-1"
    real = recorded("http_get_trade_orders_pending.json")
    real["data"][0]["attachAlgoOrds"] = [
        {
            "attachAlgoId": "1",
            "attachAlgoClOrdId": "",
            "slTriggerPx": "1",
            "slOrdPx": "-1",
            "slTriggerPxType": "last",
            "tpTriggerPx": "",
            "tpOrdPx": "",
            "tpTriggerPxType": "",
        }
    ]
    assert_same_shape(real["data"][0], fake, "attached")


@pytest.mark.parametrize(
    ("name", "path", "body"),
    [
        (
            "http_post_trade_batch_orders.json",
            "/api/v5/trade/batch-orders",
            [
                {
                    "instId": BTC,
                    "tdMode": "cross",
                    "side": "buy",
                    "ordType": "market",
                    "sz": "1",
                    "clOrdId": "p1",
                    "tag": "t1",
                }
            ],
        ),
        (
            "http_post_account_set_leverage.json",
            "/api/v5/account/set-leverage",
            {"instId": BTC, "lever": 5, "mgnMode": "cross"},
        ),
    ],
)
def test_post_endpoints_carry_every_recorded_field(client, name, path, body):
    fake = client.post(path, body).json()
    assert fake["code"] == "0", fake
    assert_same_shape(recorded(name), fake, name)


def test_algo_place_and_cancel_answers(trading):
    rows = trading.data(trading.get("/api/v5/market/candles", f"instId={BTC}&bar=15m&limit=1"))
    stop = f"{float(rows[0][4]) * 0.7:.1f}"
    placed = trading.post(
        "/api/v5/trade/order-algo",
        {
            "instId": BTC,
            "tdMode": "cross",
            "side": "sell",
            "ordType": "conditional",
            "sz": "1",
            "slTriggerPx": stop,
            "slOrdPx": "-1",
            "reduceOnly": True,
            "clOrdId": "ccxtStyle1",
        },
    ).json()
    assert_same_shape(recorded("http_post_trade_order_algo.json"), placed, "order-algo")
    assert placed["data"][0]["algoClOrdId"] == "ccxtStyle1"
    algo_id = placed["data"][0]["algoId"]
    canceled = trading.post("/api/v5/trade/cancel-algos", [{"instId": BTC, "algoId": algo_id}])
    assert_same_shape(recorded("http_post_trade_cancel_algos.json"), canceled.json(), "cancel")


def test_ws_pushes_carry_every_recorded_field(okx, client):
    ws = ws_connect(okx.ws_url)
    try:
        assert ws_login(ws)["code"] == "0"
        ws.send(
            json.dumps(
                {
                    "op": "subscribe",
                    "args": [
                        {"channel": "orders", "instType": "ANY"},
                        {"channel": "positions", "instType": "ANY", "instId": BTC},
                    ],
                }
            )
        )
        ws_next(ws, lambda m: isinstance(m, dict) and m.get("eventType") == "snapshot")
        client.data(
            client.post(
                ORDER,
                {
                    "instId": BTC,
                    "tdMode": "cross",
                    "side": "buy",
                    "ordType": "market",
                    "sz": "1",
                    "clOrdId": "w1",
                },
            )
        )
        filled = ws_next(ws, lambda m: is_push("orders")(m) and m["data"][0]["state"] == "filled")
        assert_same_shape(recorded("ws_orders.json"), filled, "ws orders")
        assert filled["data"][0]["fillSz"] == "1" and filled["data"][0]["execType"] == "T"
        position = ws_next(ws, is_push("positions"))
        assert_same_shape(recorded("ws_positions.json"), position, "ws positions")
        assert position["eventType"] == "event_update" and position["data"][0]["pos"] == "1"
    finally:
        ws.close()
